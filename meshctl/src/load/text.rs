//! The report for people: the numbers of [`Report`] as aligned text, with
//! a hint where a number usually means a setting of the stack or the run.

use std::fmt::Write as _;

use super::report::{Report, ms};

/// The human report.
pub(crate) fn human(r: &Report) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    let pacing = match r.rate {
        Some(rate) => format!(
            "open loop at {rate} req/s, at most {} in flight",
            r.concurrency
        ),
        None => format!("closed loop, {} workers", r.concurrency),
    };
    line(format!(
        "meshctl load: {} to {} ({pacing}, {} connections)",
        r.scenario, r.target, r.connections
    ));
    line(String::new());
    let c = &r.requests;
    line("requests".to_owned());
    if let Some(intended) = c.intended {
        line(format!("  {:<12}{intended:>10}", "intended"));
    }
    for (label, value, note) in [
        ("sent", c.sent, ""),
        ("completed", c.completed, ""),
        ("ok", c.ok, ""),
        ("expected", c.expected, "  (refusals the scenario asks for)"),
        ("errors", c.errors, ""),
        ("timeouts", c.timeouts, "  (no answer within --timeout)"),
        ("delayed", c.delayed, "  (waited for the in-flight cap)"),
        (
            "not sent",
            c.not_sent,
            "  (the cap stayed full; errors as NOT_SENT)",
        ),
        ("warm-up", c.warmup, "  (sent, not measured)"),
    ] {
        line(format!("  {label:<12}{value:>10}{note}"));
    }
    line(format!("  {:<12}{:>10.3} s", "duration", r.duration_s));
    line(format!(
        "  {:<12}{:>10.1} req/s",
        "throughput", r.throughput_rps
    ));
    line(String::new());
    let from = if r.rate.is_some() {
        "from the intended send time"
    } else {
        "from the send"
    };
    line(format!("latency ({from})"));
    for (label, us) in r.latency_us.rows() {
        line(format!("  {label:<12}{:>10} ms", ms(us)));
    }
    let s = &r.service_time_us;
    line(format!(
        "service time (from the actual send): p50 {} ms, p99 {} ms, max {} ms",
        ms(s.p50),
        ms(s.p99),
        ms(s.max)
    ));
    for (title, map) in [
        ("errors by status", &r.errors_by_status),
        ("expected refusals by status", &r.expected_by_status),
    ] {
        if !map.is_empty() {
            line(String::new());
            line(title.to_owned());
            for (status, count) in map {
                line(format!("  {status:<22}{count:>10}"));
            }
        }
    }
    if r.outcomes.iter().any(|o| o.kind != "request") {
        line(String::new());
        line("by kind".to_owned());
        for o in &r.outcomes {
            line(format!(
                "  {:<15}{:<22}{:<10}{:>10}",
                o.kind, o.status, o.class, o.count
            ));
        }
    }
    line(String::new());
    line(format!(
        "client CPU    user {:.3} s, system {:.3} s, {:.1} µs per request",
        r.cpu.user_s, r.cpu.system_s, r.cpu.per_request_us
    ));
    for hint in hints(r) {
        line(format!("hint: {hint}"));
    }
    out
}

/// What a reader probably wants to know about these numbers.
fn hints(r: &Report) -> Vec<String> {
    let mut hints = Vec::new();
    let throttled = ["RESOURCE_EXHAUSTED", "HTTP 429"]
        .iter()
        .filter_map(|s| r.errors_by_status.get(*s))
        .sum::<u64>();
    if throttled > 0 && r.scenario != "direct" {
        hints.push(format!(
            "{throttled} requests were rate-limited: the gateway allows 50/s per subject (GATEWAY_RATE_SUBJECT) and 1000/s per client (GATEWAY_RATE_CLIENT) by default; raise them for load runs"
        ));
    }
    let served_abuse: u64 = r
        .outcomes
        .iter()
        .filter(|o| matches!(o.kind, "forged-token" | "expired-token") && o.status == "OK")
        .map(|o| o.count)
        .sum();
    if served_abuse > 0 {
        hints.push(format!(
            "SECURITY: {served_abuse} requests with a forged or expired token were served"
        ));
    }
    if r.requests.delayed > 0 || r.requests.not_sent > 0 {
        let mut text = String::new();
        let _ = write!(
            text,
            "the in-flight cap (--concurrency {}) was reached: {} sends waited",
            r.concurrency, r.requests.delayed
        );
        if r.requests.not_sent > 0 {
            let _ = write!(
                text,
                " and {} were never sent (up to a --timeout after the schedule ended)",
                r.requests.not_sent
            );
        }
        text.push_str("; their wait is in their latency");
        hints.push(text);
    }
    hints
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tonic::Code;

    use super::*;
    use crate::load::{
        outcome::{Kind, Outcome, Status},
        record::{Recorder, Sample},
        report::Parts,
    };

    fn report(outcomes: &[(Kind, Status, u64)]) -> Report {
        let recorder = Recorder::new(2);
        for (i, &(kind, status, ms)) in outcomes.iter().enumerate() {
            let latency = Duration::from_millis(ms);
            let sample = Sample {
                outcome: Outcome::new(kind, status),
                latency,
                service: status.sent().then_some(latency),
                delayed: false,
                warmup: false,
            };
            recorder.record(i, sample);
        }
        let parts = Parts {
            scenario: "abuse",
            target: "127.0.0.1:8443".to_owned(),
            rate: Some(10.0),
            concurrency: 8,
            connections: 1,
            intended: Some(5),
            elapsed: Duration::from_secs(2),
            cpu: (Duration::from_millis(30), Duration::from_millis(10)),
            series: vec![recorder.tick(Duration::from_secs(2), Duration::from_secs(2))],
        };
        Report::new(parts, &recorder.totals())
    }

    #[test]
    fn counts_classes_and_text_come_from_one_report() {
        let r = report(&[
            (Kind::Forged, Status::Grpc(Code::Unauthenticated), 2),
            (Kind::Expired, Status::Grpc(Code::Ok), 3),
            (Kind::OverQuota, Status::Grpc(Code::ResourceExhausted), 1),
            (Kind::OverQuota, Status::Timeout, 40),
            (Kind::Request, Status::NotSent, 900),
        ]);
        let c = &r.requests;
        assert_eq!((c.sent, c.completed, c.ok, c.expected), (4, 3, 0, 2));
        assert_eq!((c.errors, c.timeouts, c.not_sent), (3, 1, 1));
        // The series counts as the totals do.
        assert_eq!((r.series[0].completed, r.series[0].errors), (3, 3));
        // What was never sent is an error with its wait as its latency,
        // and has no service time.
        assert_eq!(r.errors_by_status.get("NOT_SENT"), Some(&1));
        assert!(r.latency_us.max >= 900_000, "{:?}", r.latency_us);
        assert!(r.service_time_us.max < 900_000, "{:?}", r.service_time_us);
        assert_eq!(r.throughput_rps, 1.5);
        assert_eq!(r.cpu.per_request_us, 10_000.0);
        assert_eq!(r.errors_by_status.get("OK"), Some(&1));
        assert_eq!(r.expected_by_status.get("RESOURCE_EXHAUSTED"), Some(&1));
        assert!(r.latency_us.min >= 1_000);
        assert_eq!(
            (ms(40_015), ms(7)),
            ("40.015".to_owned(), "0.007".to_owned())
        );

        let text = human(&r);
        assert!(text.contains("  not sent             1"), "{text}");
        assert!(text.contains(&format!("  max         {:>10} ms", ms(r.latency_us.max))));
        assert!(text.contains("expired-token  OK"), "{text}");
        assert!(text.contains("SECURITY: 1 requests with a forged or expired token"));
        assert!(text.contains("1 were never sent"), "{text}");
    }
}
