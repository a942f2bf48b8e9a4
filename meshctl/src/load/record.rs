//! Recording what each request did, cheaply enough not to slow the run:
//! workers write into a few mutex-guarded shards (worker `w` into shard
//! `w % shards`, so two workers rarely meet on one lock), each holding HDR
//! histograms and outcome counts. About once a second the collector drains
//! the shards' interval histograms into one point of the time series; at
//! the end the shards are merged into the totals the report is made of.
//! Both count with the same definitions (see [`Status::completed`](super::outcome::Status::completed)).

use std::{
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use hdrhistogram::Histogram;

use super::outcome::{Class, Outcome};

/// Latencies are recorded in microseconds, up to an hour, to 3 significant digits.
const MAX_MICROS: u64 = 3_600_000_000;
const SIGNIFICANT_DIGITS: u8 = 3;

/// A latency histogram with the bounds every recorder shares.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// One finished (or abandoned) request, as a worker hands it to the recorder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) outcome: Outcome,
    /// From the intended send time (open loop) or the send (closed loop);
    /// for a request never sent, up to when the run gave up on it.
    pub(crate) latency: Duration,
    /// From the moment the request actually left; `None` if it never did.
    pub(crate) service: Option<Duration>,
    /// The send waited for a free slot under the in-flight cap.
    pub(crate) delayed: bool,
    /// Sent during the warm-up: counted, not measured.
    pub(crate) warmup: bool,
}

struct Shard {
    latency: Histogram<u64>,
    service: Histogram<u64>,
    /// Latencies since the collector's last tick.
    interval: Histogram<u64>,
    /// Completed requests and errors since the last tick.
    interval_completed: u64,
    interval_errors: u64,
    outcomes: Vec<(Outcome, u64)>,
    delayed: u64,
    warmup: u64,
}

impl Shard {
    fn new() -> Self {
        Self {
            latency: histogram(),
            service: histogram(),
            interval: histogram(),
            interval_completed: 0,
            interval_errors: 0,
            outcomes: Vec::new(),
            delayed: 0,
            warmup: 0,
        }
    }
}

/// One point of the time series: what ended between two of the
/// collector's ticks (about a second apart, exactly as wide as `width_s`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub(crate) struct Interval {
    /// When the interval ended, in seconds since the measured part began.
    pub(crate) end_s: f64,
    /// How long the interval really was, in seconds.
    pub(crate) width_s: f64,
    /// Requests completed in the interval, counted as the totals count them
    /// (timeouts and requests never sent excluded).
    pub(crate) completed: u64,
    /// `completed` over `width_s`.
    pub(crate) completed_rps: f64,
    /// Errors, timeouts and requests never sent included, as in the totals.
    pub(crate) errors: u64,
    pub(crate) p50_us: u64,
    pub(crate) p99_us: u64,
    pub(crate) max_us: u64,
}

/// Seconds to the millisecond, as the series shows them.
fn round3(secs: f64) -> f64 {
    (secs * 1e3).round() / 1e3
}

/// Everything recorded, merged.
#[derive(Debug)]
pub(crate) struct Totals {
    pub(crate) latency: Histogram<u64>,
    pub(crate) service: Histogram<u64>,
    /// Distinct outcomes with their counts, sorted.
    pub(crate) outcomes: Vec<(Outcome, u64)>,
    pub(crate) delayed: u64,
    pub(crate) warmup: u64,
}

/// The shards workers record into.
pub(crate) struct Recorder {
    shards: Box<[Mutex<Shard>]>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("shards", &self.shards.len())
            .finish()
    }
}

impl Recorder {
    /// A recorder with `shards` shards (at least one).
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(Shard::new()))
                .collect(),
        }
    }

    fn shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i % self.shards.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `sample` from worker `worker`.
    pub(crate) fn record(&self, worker: usize, sample: Sample) {
        let mut shard = self.shard(worker);
        if sample.warmup {
            shard.warmup += 1;
            return;
        }
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let latency = micros(sample.latency);
        shard.latency.saturating_record(latency);
        shard.interval.saturating_record(latency);
        if let Some(service) = sample.service {
            shard.service.saturating_record(micros(service));
        }
        shard.interval_completed += u64::from(sample.outcome.status.completed());
        shard.interval_errors += u64::from(sample.outcome.class() == Class::Error);
        shard.delayed += u64::from(sample.delayed);
        match shard
            .outcomes
            .iter_mut()
            .find(|(o, _)| *o == sample.outcome)
        {
            Some((_, count)) => *count += 1,
            None => shard.outcomes.push((sample.outcome, 1)),
        }
    }

    /// Drains what ended since the last tick into a point of the series:
    /// the interval `width` wide that ended `end` into the measured part.
    pub(crate) fn tick(&self, end: Duration, width: Duration) -> Interval {
        let mut merged = histogram();
        let (mut completed, mut errors) = (0, 0);
        for i in 0..self.shards.len() {
            let mut shard = self.shard(i);
            merged
                .add(&shard.interval)
                .expect("histograms share their bounds");
            shard.interval.reset();
            completed += std::mem::take(&mut shard.interval_completed);
            errors += std::mem::take(&mut shard.interval_errors);
        }
        let width_s = width.as_secs_f64();
        Interval {
            end_s: round3(end.as_secs_f64()),
            width_s: round3(width_s),
            completed,
            completed_rps: if width_s > 0.0 {
                (completed as f64 / width_s * 10.0).round() / 10.0
            } else {
                0.0
            },
            errors,
            p50_us: merged.value_at_quantile(0.5),
            p99_us: merged.value_at_quantile(0.99),
            max_us: merged.max(),
        }
    }

    /// Merges every shard.
    pub(crate) fn totals(&self) -> Totals {
        let mut totals = Totals {
            latency: histogram(),
            service: histogram(),
            outcomes: Vec::new(),
            delayed: 0,
            warmup: 0,
        };
        for i in 0..self.shards.len() {
            let shard = self.shard(i);
            totals
                .latency
                .add(&shard.latency)
                .expect("histograms share their bounds");
            totals
                .service
                .add(&shard.service)
                .expect("histograms share their bounds");
            for &(outcome, count) in &shard.outcomes {
                match totals.outcomes.iter_mut().find(|(o, _)| *o == outcome) {
                    Some((_, total)) => *total += count,
                    None => totals.outcomes.push((outcome, count)),
                }
            }
            totals.delayed += shard.delayed;
            totals.warmup += shard.warmup;
        }
        totals
            .outcomes
            .sort_by_key(|(o, _)| (o.kind, o.status.order()));
        totals
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;
    use crate::load::outcome::{Kind, Status};

    fn sample(kind: Kind, status: Status, millis: u64) -> Sample {
        Sample {
            outcome: Outcome::new(kind, status),
            latency: Duration::from_millis(millis),
            service: status.sent().then(|| Duration::from_millis(millis / 2)),
            delayed: millis > 100,
            warmup: false,
        }
    }

    #[test]
    fn shards_merge_into_totals_and_ticks_drain_intervals() {
        let recorder = Recorder::new(3);
        for (w, ms) in [10, 20, 30, 200].into_iter().enumerate() {
            recorder.record(w, sample(Kind::Request, Status::Grpc(Code::Ok), ms));
        }
        recorder.record(1, sample(Kind::Request, Status::Grpc(Code::Unavailable), 5));
        let warm = Sample {
            warmup: true,
            ..sample(Kind::Request, Status::Grpc(Code::Ok), 1)
        };
        recorder.record(0, warm);

        let second = Duration::from_secs(1);
        let first = recorder.tick(second, second);
        assert_eq!((first.completed, first.errors), (5, 1));
        assert_eq!(
            (first.end_s, first.width_s, first.completed_rps),
            (1.0, 1.0, 5.0)
        );
        assert!(
            first.max_us >= 200_000 && first.p50_us >= 19_000,
            "{first:?}"
        );
        let empty = recorder.tick(2 * second, second);
        assert_eq!((empty.completed, empty.errors, empty.max_us), (0, 0, 0));

        // Neither a timeout nor a request never sent completed; both are
        // errors with a latency, and only the one that left has a service time.
        recorder.record(2, sample(Kind::Request, Status::Timeout, 50));
        let never = Sample {
            delayed: false,
            ..sample(Kind::Request, Status::NotSent, 3000)
        };
        recorder.record(0, never);
        let part = recorder.tick(Duration::from_millis(2250), Duration::from_millis(250));
        assert_eq!((part.completed, part.errors), (0, 2));
        assert_eq!(
            (part.end_s, part.width_s, part.completed_rps),
            (2.25, 0.25, 0.0)
        );
        assert!(part.max_us >= 3_000_000, "{part:?}");

        let totals = recorder.totals();
        assert_eq!(totals.latency.len(), 7);
        assert!(totals.latency.max() >= 3_000_000);
        assert_eq!(totals.service.len(), 6);
        assert!(totals.service.equivalent(totals.service.max(), 100_000));
        assert_eq!((totals.delayed, totals.warmup), (1, 1));
        assert_eq!(
            totals.outcomes,
            vec![
                (Outcome::new(Kind::Request, Status::Grpc(Code::Ok)), 4),
                (
                    Outcome::new(Kind::Request, Status::Grpc(Code::Unavailable)),
                    1
                ),
                (Outcome::new(Kind::Request, Status::Timeout), 1),
                (Outcome::new(Kind::Request, Status::NotSent), 1),
            ]
        );
    }
}
