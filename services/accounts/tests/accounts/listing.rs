//! Listing with opaque page tokens: a USER pages through their own
//! accounts only; MANAGER and ADMIN page through all, or one owner's.

use std::collections::HashSet;

use mesh_proto::accounts::v1::{ListAccountsRequest, ListLedgerEntriesRequest};
use tonic::Code;

use crate::fixture::{self, Client, deposit, open};

/// Every account `client` lists with `owner`, page by page of `size`.
async fn all_pages(client: &mut Client, owner: &str, size: i32) -> (Vec<String>, usize) {
    let (mut ids, mut pages, mut token) = (Vec::new(), 0, String::new());
    loop {
        let page = client
            .list_accounts(ListAccountsRequest {
                page_size: size,
                page_token: token,
                owner: owner.to_owned(),
            })
            .await
            .expect("list")
            .into_inner();
        pages += 1;
        ids.extend(page.accounts.into_iter().map(|a| a.account_id));
        if page.next_page_token.is_empty() || pages > 10 {
            return (ids, pages);
        }
        token = page.next_page_token;
    }
}

#[tokio::test]
async fn accounts_page_by_owner() {
    let setup = fixture::start().await;
    let (mut alice, mut bob) = (setup.user("alice"), setup.user("bob"));
    let mut mine = Vec::new();
    for _ in 0..5 {
        mine.push(open(&mut alice, "EUR").await.account_id);
    }
    let theirs = open(&mut bob, "USD").await.account_id;

    let (listed, pages) = all_pages(&mut alice, "", 2).await;
    assert_eq!((listed.clone(), pages), (mine.clone(), 3));
    let (listed, _) = all_pages(&mut setup.manager(), "", 0).await;
    assert_eq!(listed.len(), 6);
    assert_eq!(listed.iter().collect::<HashSet<_>>().len(), 6);
    let (listed, _) = all_pages(&mut setup.manager(), "bob", 0).await;
    assert_eq!(listed, [theirs]);

    for (size, token) in [(-1, ""), (101, ""), (10, "garbage"), (10, "AAAA")] {
        let refused = alice
            .list_accounts(ListAccountsRequest {
                page_size: size,
                page_token: token.to_owned(),
                owner: String::new(),
            })
            .await
            .expect_err("bad page request");
        assert_eq!(refused.code(), Code::InvalidArgument, "{size} {token}");
    }
}

#[tokio::test]
async fn the_ledger_pages_newest_first() {
    let setup = fixture::start().await;
    let mut alice = setup.user("alice");
    let account = open(&mut alice, "EUR").await;
    let mut manager = setup.manager();
    for i in 1..=5 {
        deposit(&mut manager, &account.account_id, i, &format!("d{i}"))
            .await
            .expect("deposit");
    }
    let (mut amounts, mut token) = (Vec::new(), String::new());
    for _ in 0..3 {
        let page = alice
            .list_ledger_entries(ListLedgerEntriesRequest {
                account_id: account.account_id.clone(),
                page_size: 2,
                page_token: token,
            })
            .await
            .expect("ledger")
            .into_inner();
        amounts.extend(page.entries.iter().map(|e| e.amount_minor));
        token = page.next_page_token;
    }
    assert_eq!(amounts, [5, 4, 3, 2, 1]);
    assert!(token.is_empty(), "three pages hold five entries");
}
