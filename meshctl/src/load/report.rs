//! The final report: one [`Report`] value, printed for people or as JSON
//! (and drawn by `html`), so every form shows the same numbers.
//! Latencies are whole microseconds from the HDR histogram; the text
//! shows them as milliseconds with three decimals, which is exact.

use std::{collections::BTreeMap, time::Duration};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{
    outcome::{Class, Status},
    record::{Interval, Totals},
};

/// The whole result of a run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub(crate) scenario: &'static str,
    /// `open` or `closed`.
    pub(crate) mode: &'static str,
    /// Where the requests went (`host:port`).
    pub(crate) target: String,
    /// Requests per second wanted (open loop).
    pub(crate) rate: Option<f64>,
    /// In-flight cap (open loop) or workers (closed loop).
    pub(crate) concurrency: usize,
    pub(crate) connections: usize,
    /// From the start of the measured part to its last answer.
    pub(crate) duration_s: f64,
    pub(crate) requests: Counts,
    /// Answers per second over `duration_s`.
    pub(crate) throughput_rps: f64,
    /// From the intended send time (open loop) or the send (closed loop);
    /// requests never sent are in it too, up to when the run gave up on them.
    pub(crate) latency_us: Latency,
    /// From the moment each request actually left (so only those sent).
    pub(crate) service_time_us: Latency,
    /// Errors by status name.
    pub(crate) errors_by_status: BTreeMap<String, u64>,
    /// Expected refusals (abuse scenario) by status name.
    pub(crate) expected_by_status: BTreeMap<String, u64>,
    /// Every distinct (kind, status) with its class and count.
    pub(crate) outcomes: Vec<OutcomeCount>,
    pub(crate) cpu: Cpu,
    /// The latency distribution, for a percentile curve.
    pub(crate) percentiles: Vec<Point>,
    /// About one point per second of the measured part.
    pub(crate) series: Vec<Interval>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Open loop: requests the schedule wanted sent.
    pub(crate) intended: Option<u64>,
    /// Measured requests sent.
    pub(crate) sent: u64,
    /// Sent and answered (or failed) before `--timeout`.
    pub(crate) completed: u64,
    pub(crate) ok: u64,
    pub(crate) expected: u64,
    /// Errors, timeouts and requests never sent included.
    pub(crate) errors: u64,
    pub(crate) timeouts: u64,
    /// Sends that waited for a free slot under the in-flight cap.
    pub(crate) delayed: u64,
    /// Open loop: intended but never sent (the cap stayed full to the end);
    /// each is an error (`NOT_SENT`) with its wait as its latency.
    pub(crate) not_sent: u64,
    /// Sent during the warm-up, not measured.
    pub(crate) warmup: u64,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub(crate) struct Latency {
    pub(crate) min: u64,
    pub(crate) mean: u64,
    pub(crate) p50: u64,
    pub(crate) p90: u64,
    pub(crate) p99: u64,
    pub(crate) p999: u64,
    pub(crate) max: u64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        Self {
            min: h.min(),
            mean: h.mean().round() as u64,
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }

    /// `(label, value)` in report order.
    pub(crate) fn rows(&self) -> [(&'static str, u64); 7] {
        [
            ("min", self.min),
            ("p50", self.p50),
            ("p90", self.p90),
            ("p99", self.p99),
            ("p99.9", self.p999),
            ("max", self.max),
            ("mean", self.mean),
        ]
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct OutcomeCount {
    pub(crate) kind: &'static str,
    pub(crate) status: String,
    pub(crate) class: &'static str,
    pub(crate) count: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Cpu {
    pub(crate) user_s: f64,
    pub(crate) system_s: f64,
    /// Client CPU per request sent (warm-up included, as is its CPU), in microseconds.
    pub(crate) per_request_us: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Point {
    pub(crate) percentile: f64,
    pub(crate) latency_us: u64,
}

/// This process's CPU time so far: (user, system).
pub(crate) fn cpu_now() -> (Duration, Duration) {
    use nix::sys::resource::{UsageWho, getrusage};
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::new(t.tv_sec().max(0) as u64, (t.tv_usec().max(0) as u32) * 1000)
    };
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| (tv(u.user_time()), tv(u.system_time())))
        .unwrap_or_default()
}

/// Percentiles for the curve: 0, 90, 99, 99.9, ... and the steps between.
fn curve(h: &Histogram<u64>) -> Vec<Point> {
    let mut points: Vec<Point> = (0..=50)
        .map(|step| 100.0 * (1.0 - 10f64.powf(-f64::from(step) / 10.0)))
        .map(|p| Point {
            percentile: (p * 1e4).round() / 1e4,
            latency_us: h.value_at_percentile(p),
        })
        .collect();
    points.push(Point {
        percentile: 100.0,
        latency_us: h.max(),
    });
    points
}

/// What the report is made of.
#[derive(Debug)]
pub(crate) struct Parts {
    pub(crate) scenario: &'static str,
    pub(crate) target: String,
    pub(crate) rate: Option<f64>,
    pub(crate) concurrency: usize,
    pub(crate) connections: usize,
    pub(crate) intended: Option<u64>,
    pub(crate) elapsed: Duration,
    pub(crate) cpu: (Duration, Duration),
    pub(crate) series: Vec<Interval>,
}

impl Report {
    pub(crate) fn new(parts: Parts, totals: &Totals) -> Self {
        let mut counts = Counts {
            intended: parts.intended,
            sent: 0,
            completed: 0,
            ok: 0,
            expected: 0,
            errors: 0,
            timeouts: 0,
            delayed: totals.delayed,
            not_sent: 0,
            warmup: totals.warmup,
        };
        let (mut errors_by_status, mut expected_by_status) = (BTreeMap::new(), BTreeMap::new());
        let mut outcomes = Vec::new();
        for &(outcome, count) in &totals.outcomes {
            if outcome.status.sent() {
                counts.sent += count;
            } else {
                counts.not_sent += count;
            }
            if outcome.status.completed() {
                counts.completed += count;
            }
            let class = outcome.class();
            match class {
                Class::Ok => counts.ok += count,
                Class::Expected => counts.expected += count,
                Class::Error => counts.errors += count,
            }
            let status = outcome.status.label();
            let by_status = match class {
                Class::Error => Some(&mut errors_by_status),
                Class::Expected => Some(&mut expected_by_status),
                Class::Ok => None,
            };
            if let Some(map) = by_status {
                *map.entry(status.clone()).or_insert(0) += count;
            }
            if outcome.status == Status::Timeout {
                counts.timeouts += count;
            }
            outcomes.push(OutcomeCount {
                kind: outcome.kind.name(),
                status,
                class: class.name(),
                count,
            });
        }
        let secs = parts.elapsed.as_secs_f64();
        let cpu_total = (parts.cpu.0 + parts.cpu.1).as_secs_f64();
        Self {
            scenario: parts.scenario,
            mode: if parts.rate.is_some() {
                "open"
            } else {
                "closed"
            },
            target: parts.target,
            rate: parts.rate,
            concurrency: parts.concurrency,
            connections: parts.connections,
            duration_s: (secs * 1e3).round() / 1e3,
            throughput_rps: if secs > 0.0 {
                (counts.completed as f64 / secs * 10.0).round() / 10.0
            } else {
                0.0
            },
            requests: counts.clone(),
            latency_us: Latency::of(&totals.latency),
            service_time_us: Latency::of(&totals.service),
            errors_by_status,
            expected_by_status,
            outcomes,
            cpu: Cpu {
                user_s: round3(parts.cpu.0.as_secs_f64()),
                system_s: round3(parts.cpu.1.as_secs_f64()),
                per_request_us: if counts.sent + counts.warmup > 0 {
                    let all = (counts.sent + counts.warmup) as f64;
                    (cpu_total * 1e6 / all * 10.0).round() / 10.0
                } else {
                    0.0
                },
            },
            percentiles: curve(&totals.latency),
            series: parts.series,
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// Microseconds as milliseconds with three decimals (exact).
pub(crate) fn ms(us: u64) -> String {
    format!("{}.{:03}", us / 1000, us % 1000)
}
