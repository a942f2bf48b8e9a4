//! The load engine: when each request goes out, and how long it took.
//!
//! Open loop: request `i` is due at `t0 + i / rate`, whatever happened to
//! the ones before it, and its latency runs from that intended time, so a
//! server that stalls is charged for every request it held up (no
//! coordinated omission). `--concurrency` workers take the due times in
//! order; when all of them are busy the next request waits for one, that
//! wait counts in its latency, and it is counted as delayed. A request no
//! worker could take up before the run gives up (a timeout after the
//! schedule ends) is never sent, but it is still recorded, as `NOT_SENT`
//! with the time from its due time to the give-up as its latency, so the
//! worst waits stay in the percentiles. Closed loop: each worker sends back
//! to back. Both are bounded: by the request count, by the duration, and
//! every request by `--timeout`.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{task::JoinSet, time::Instant};

use super::{
    outcome::{Kind, Outcome, Status},
    record::{Recorder, Sample},
};

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    /// A constant arrival rate, in requests per second.
    Open { rate: f64 },
    /// Workers sending back to back.
    Closed,
}

/// The shape of a run, checked (see `args`).
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub(crate) mode: Mode,
    /// Most requests in flight (open loop) or workers (closed loop).
    pub(crate) workers: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    pub(crate) requests: Option<u64>,
    pub(crate) timeout: Duration,
}

impl Schedule {
    /// Open loop: how many requests the warm-up and the measured part intend.
    pub(crate) fn planned(&self) -> Option<(u64, u64)> {
        let Mode::Open { rate } = self.mode else {
            return None;
        };
        // The number of i ≥ 0 with i / rate < span, robust to float noise.
        let count = |span: Duration| (rate * span.as_secs_f64() - 1e-9).ceil().max(0.0) as u64;
        let measured = count(self.duration);
        Some((
            count(self.warmup),
            self.requests.map_or(measured, |n| n.min(measured)),
        ))
    }

    /// The latest the run can end, measured from its start.
    pub(crate) fn longest(&self) -> Duration {
        // The last send may wait up to a timeout for a free worker (open
        // loop), then take up to a timeout itself.
        self.warmup + self.duration + self.timeout * 2
    }
}

/// One request, sent by worker `worker`; `seq` is unique in the run.
pub(crate) trait Call: Send + Sync + 'static {
    fn call(&self, worker: usize, seq: u64) -> impl Future<Output = Outcome> + Send;
}

/// What the engine saw of the run's timing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ran {
    /// From the start of the measured part to the last measured answer.
    pub(crate) elapsed: Duration,
}

/// Runs `schedule` from `t0` (the warm-up's start), recording into `recorder`.
pub(crate) async fn drive<C: Call>(
    call: Arc<C>,
    schedule: &Schedule,
    recorder: Arc<Recorder>,
    t0: Instant,
) -> Ran {
    let shared = Arc::new(Shared {
        call,
        recorder,
        next: AtomicU64::new(0),
        measured: AtomicU64::new(0),
        t0,
        measure_from: t0 + schedule.warmup,
        timeout: schedule.timeout,
    });
    let mut workers = JoinSet::new();
    match (schedule.mode, schedule.planned()) {
        (Mode::Open { rate }, Some((warm, measured))) => {
            let total = warm + measured;
            let open = Open {
                rate,
                warm,
                total,
                give_up: t0 + schedule.warmup + schedule.duration + schedule.timeout,
            };
            let n = schedule
                .workers
                .min(usize::try_from(total).unwrap_or(usize::MAX));
            for w in 0..n {
                workers.spawn(open_worker(w, shared.clone(), open));
            }
        }
        _ => {
            let end = shared.measure_from + schedule.duration;
            for w in 0..schedule.workers {
                workers.spawn(closed_worker(w, shared.clone(), end, schedule.requests));
            }
        }
    }
    let mut last = shared.measure_from;
    while let Some(done) = workers.join_next().await {
        if let Ok(Some(at)) = done {
            last = last.max(at);
        }
    }
    Ran {
        elapsed: last.saturating_duration_since(shared.measure_from),
    }
}

struct Shared<C> {
    call: Arc<C>,
    recorder: Arc<Recorder>,
    /// The next sequence number (the next due time, in the open loop).
    next: AtomicU64,
    /// Closed loop: measured requests started, against `--requests`.
    measured: AtomicU64,
    t0: Instant,
    measure_from: Instant,
    timeout: Duration,
}

impl<C: Call> Shared<C> {
    /// Sends one request and records it; returns when it ended.
    async fn send(
        &self,
        worker: usize,
        seq: u64,
        from: Instant,
        delayed: bool,
        warmup: bool,
    ) -> Instant {
        let sent = Instant::now();
        let outcome = tokio::time::timeout(self.timeout, self.call.call(worker, seq))
            .await
            .unwrap_or(Outcome::new(Kind::Request, Status::Timeout));
        let done = Instant::now();
        self.recorder.record(
            worker,
            Sample {
                outcome,
                latency: done - from,
                service: Some(done - sent),
                delayed,
                warmup,
            },
        );
        done
    }
}

/// How late a worker may take up a due time before the send counts as
/// delayed: the timer's resolution, so that scheduling noise is not
/// reported as a full in-flight cap.
const DELAY_SLACK: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Copy)]
struct Open {
    rate: f64,
    /// Due times before this index are the warm-up.
    warm: u64,
    total: u64,
    /// A worker that only gets to a due time after this does not send it.
    give_up: Instant,
}

/// Takes due times in order until none are left; returns its last measured answer.
async fn open_worker<C: Call>(w: usize, s: Arc<Shared<C>>, open: Open) -> Option<Instant> {
    let mut last = None;
    loop {
        let i = s.next.fetch_add(1, Ordering::Relaxed);
        if i >= open.total {
            return last;
        }
        let due = s.t0 + Duration::from_secs_f64(i as f64 / open.rate);
        let warmup = i < open.warm;
        let now = Instant::now();
        if now >= open.give_up {
            // Too late to send; a measured one is still charged its wait
            // (due times all fall before the give-up), without a send.
            if !warmup {
                s.recorder.record(w, not_sent(due, open.give_up));
            }
            continue;
        }
        // No worker was free when this was due: the cap was reached.
        let delayed = now > due + DELAY_SLACK;
        tokio::time::sleep_until(due).await;
        let done = s.send(w, i, due, delayed, warmup).await;
        if !warmup {
            last = Some(done);
        }
    }
}

/// A measured request due at `due` that the run gave up on at `give_up`.
fn not_sent(due: Instant, give_up: Instant) -> Sample {
    Sample {
        outcome: Outcome::new(Kind::Request, Status::NotSent),
        latency: give_up.saturating_duration_since(due),
        service: None,
        delayed: false,
        warmup: false,
    }
}

/// Sends back to back until `end` or `requests`; returns its last measured answer.
async fn closed_worker<C: Call>(
    w: usize,
    s: Arc<Shared<C>>,
    end: Instant,
    requests: Option<u64>,
) -> Option<Instant> {
    let mut last = None;
    loop {
        let now = Instant::now();
        if now >= end {
            return last;
        }
        let warmup = now < s.measure_from;
        if !warmup && requests.is_some_and(|n| s.measured.fetch_add(1, Ordering::Relaxed) >= n) {
            return last;
        }
        let seq = s.next.fetch_add(1, Ordering::Relaxed);
        let done = s.send(w, seq, now, false, warmup).await;
        if !warmup {
            last = Some(done);
        }
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
