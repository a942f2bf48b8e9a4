//! The revocation set on a manual clock: what it refuses, when it goes
//! stale, and what it forgets.

use std::{sync::Arc, time::Duration};

use serde_json::json;

use super::{MAX_ENTRIES, Revocations, TooMany, Update};
use crate::jwt::{AuthError, Claims, ManualClock};

const STALE_AFTER: Duration = Duration::from_secs(30);

fn set() -> (ManualClock, Revocations) {
    let clock = ManualClock::starting_now();
    let revocations = Revocations::new(Arc::new(clock.clone()), STALE_AFTER);
    (clock, revocations)
}

fn now(clock: &ManualClock) -> u64 {
    crate::jwt::Clock::now(clock).as_secs()
}

/// Alice's token from client `web`, issued at `iat`.
fn token(jti: &str, iat: u64, root_jti: Option<&str>) -> Claims {
    serde_json::from_value(json!({
        "iss": "i", "sub": "alice", "aud": "orders", "client_id": "web",
        "iat": iat, "exp": iat + 300, "jti": jti, "root_jti": root_jti,
    }))
    .expect("claims")
}

fn snapshot(tokens: Vec<(String, u64)>, subjects: Vec<(String, String, u64, u64)>) -> Update {
    Update {
        feed: "f".into(),
        version: 1,
        snapshot: true,
        tokens,
        subjects,
    }
}

#[test]
fn case_49_a_revoked_jti_is_refused_and_others_are_not() {
    let (clock, revocations) = set();
    let t = now(&clock);
    revocations
        .apply(snapshot(vec![("gone".into(), t + 300)], vec![]))
        .expect("apply");
    assert_eq!(
        revocations.check(&token("gone", t, None)),
        Err(AuthError::Revoked)
    );
    assert_eq!(revocations.check(&token("kept", t, None)), Ok(()));
}

#[test]
fn case_49_a_token_exchanged_from_a_revoked_one_is_refused() {
    let (clock, revocations) = set();
    let t = now(&clock);
    revocations
        .apply(snapshot(vec![("root".into(), t + 300)], vec![]))
        .expect("apply");
    let exchanged = token("child", t + 1, Some("root"));
    assert_eq!(revocations.check(&exchanged), Err(AuthError::Revoked));
    let unrelated = token("child-2", t + 1, Some("other-root"));
    assert_eq!(revocations.check(&unrelated), Ok(()));
}

#[test]
fn case_49_a_subject_not_before_refuses_earlier_tokens_of_that_session() {
    let (clock, revocations) = set();
    let t = now(&clock);
    let session = ("alice".to_owned(), "web".to_owned(), t + 10, t + 3600);
    revocations
        .apply(snapshot(vec![], vec![session]))
        .expect("apply");
    assert_eq!(
        revocations.check(&token("a", t + 9, None)),
        Err(AuthError::Revoked),
        "issued before the not-before"
    );
    assert_eq!(revocations.check(&token("b", t + 10, None)), Ok(()));
    let mut other_client = token("c", t, None);
    other_client.client_id = "cli".into();
    assert_eq!(
        revocations.check(&other_client),
        Ok(()),
        "another client's session of the same subject is not revoked"
    );
    let mut bob = token("d", t, None);
    bob.sub = "bob".into();
    assert_eq!(revocations.check(&bob), Ok(()));
}

#[test]
fn case_49_a_disabled_user_loses_every_client_session() {
    let (clock, revocations) = set();
    let t = now(&clock);
    let everywhere = ("alice".to_owned(), String::new(), t + 1, t + 3600);
    revocations
        .apply(snapshot(vec![], vec![everywhere]))
        .expect("apply");
    for client in ["web", "cli"] {
        let mut claims = token("a", t, None);
        claims.client_id = client.into();
        assert_eq!(revocations.check(&claims), Err(AuthError::Revoked));
    }
}

#[test]
fn case_49_fails_closed_before_the_first_answer_and_once_stale() {
    let (clock, revocations) = set();
    let t = now(&clock);
    let claims = token("a", t, None);
    assert_eq!(
        revocations.check(&claims),
        Err(AuthError::RevocationsUnavailable),
        "nothing known yet"
    );
    revocations.apply(snapshot(vec![], vec![])).expect("apply");
    clock.advance(STALE_AFTER);
    assert_eq!(revocations.check(&claims), Ok(()), "at the limit");
    clock.advance(Duration::from_millis(1));
    assert_eq!(
        revocations.check(&claims),
        Err(AuthError::RevocationsUnavailable)
    );
    revocations
        .apply(Update {
            feed: "f".into(),
            version: 1,
            ..Update::default()
        })
        .expect("apply");
    assert_eq!(revocations.check(&claims), Ok(()), "fresh again");
}

#[test]
fn case_49_increments_add_snapshots_replace_and_expired_entries_go() {
    let (clock, revocations) = set();
    let t = now(&clock);
    revocations
        .apply(snapshot(vec![("old".into(), t + 5)], vec![]))
        .expect("apply");
    revocations
        .apply(Update {
            feed: "f".into(),
            version: 2,
            tokens: vec![("new".into(), t + 100)],
            ..Update::default()
        })
        .expect("apply");
    assert_eq!(revocations.len(), 2);
    assert_eq!(revocations.cursor(), ("f".to_owned(), 2));

    clock.advance(Duration::from_secs(5));
    revocations
        .apply(Update {
            feed: "f".into(),
            version: 2,
            ..Update::default()
        })
        .expect("apply");
    assert_eq!(revocations.len(), 1, "pruned at its exp");

    revocations
        .apply(snapshot(vec![("other".into(), t + 100)], vec![]))
        .expect("apply");
    assert_eq!(revocations.check(&token("new", t, None)), Ok(()));
    assert_eq!(
        revocations.check(&token("other", t, None)),
        Err(AuthError::Revoked)
    );
}

#[test]
fn case_49_the_set_is_bounded_and_refuses_to_forget() {
    let (clock, revocations) = set();
    let t = now(&clock);
    revocations
        .apply(snapshot(vec![("kept".into(), t + 100)], vec![]))
        .expect("apply");
    let flood = (0..MAX_ENTRIES).map(|i| (i.to_string(), t + 100)).collect();
    let refused = revocations.apply(Update {
        feed: "f".into(),
        version: 9,
        tokens: flood,
        ..Update::default()
    });
    assert_eq!(refused, Err(TooMany));
    assert_eq!(revocations.len(), 1, "nothing applied");
    assert_eq!(revocations.cursor().1, 1, "asks again from where it was");
    clock.advance(STALE_AFTER + Duration::from_secs(1));
    assert_eq!(
        revocations.check(&token("x", t, None)),
        Err(AuthError::RevocationsUnavailable),
        "a set that cannot keep up goes stale and fails closed"
    );
}
