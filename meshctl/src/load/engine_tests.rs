//! The engine against a fake service on paused time: due times, latency
//! from the intended send, the in-flight cap, and every bound.

use std::sync::Mutex;

use tonic::Code;

use super::*;
use crate::load::report::{Parts, Report};

/// A service that answers after `delay`, or `stall` for the first `stalled` calls.
struct Fake {
    delay: Duration,
    stall: Duration,
    stalled: u64,
    /// When each call arrived, by sequence number.
    arrivals: Mutex<Vec<(u64, Instant)>>,
}

impl Fake {
    fn new(delay_ms: u64) -> Self {
        Self {
            delay: Duration::from_millis(delay_ms),
            stall: Duration::ZERO,
            stalled: 0,
            arrivals: Mutex::default(),
        }
    }
}

impl Call for Fake {
    async fn call(&self, _worker: usize, seq: u64) -> Outcome {
        self.arrivals
            .lock()
            .expect("lock")
            .push((seq, Instant::now()));
        let wait = if seq < self.stalled {
            self.stall
        } else {
            self.delay
        };
        tokio::time::sleep(wait).await;
        Outcome::new(Kind::Request, Status::Grpc(Code::Ok))
    }
}

fn open(rate: f64, workers: usize, secs: u64) -> Schedule {
    Schedule {
        mode: Mode::Open { rate },
        workers,
        warmup: Duration::ZERO,
        duration: Duration::from_secs(secs),
        requests: None,
        timeout: Duration::from_secs(5),
    }
}

async fn run(fake: Fake, schedule: &Schedule) -> (Arc<Fake>, Arc<Recorder>, Ran) {
    let fake = Arc::new(fake);
    let recorder = Arc::new(Recorder::new(4));
    let ran = drive(fake.clone(), schedule, recorder.clone(), Instant::now()).await;
    (fake, recorder, ran)
}

#[tokio::test(start_paused = true)]
async fn open_loop_sends_on_schedule_and_measures_from_the_due_time() {
    let t0 = Instant::now();
    let (fake, recorder, ran) = run(Fake::new(10), &open(100.0, 50, 2)).await;
    let totals = recorder.totals();
    assert_eq!(totals.latency.len(), 200);
    let h = &totals.latency;
    assert!(h.equivalent(h.min(), 10_000) && h.equivalent(h.max(), 10_000));
    assert_eq!(totals.delayed, 0);
    let arrivals = fake.arrivals.lock().expect("lock");
    for &(seq, at) in arrivals.iter() {
        assert_eq!(at - t0, Duration::from_millis(seq * 10), "request {seq}");
    }
    assert_eq!(ran.elapsed, Duration::from_millis(1990 + 10));
}

#[tokio::test(start_paused = true)]
async fn a_stalled_server_does_not_slow_the_sender_and_shows_in_latency() {
    let t0 = Instant::now();
    let fake = Fake {
        stall: Duration::from_secs(1),
        stalled: 50,
        ..Fake::new(5)
    };
    let (fake, recorder, _) = run(fake, &open(100.0, 1000, 2)).await;
    let totals = recorder.totals();
    assert_eq!(totals.latency.len(), 200);
    assert!(
        totals.latency.max() >= 1_000_000,
        "{}",
        totals.latency.max()
    );
    assert_eq!(totals.delayed, 0);
    // The 51st request still left at its due time, during the stall.
    let arrivals = fake.arrivals.lock().expect("lock");
    let at = arrivals.iter().find(|(seq, _)| *seq == 50).expect("sent").1;
    assert_eq!(at - t0, Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn a_full_cap_delays_sends_and_charges_the_wait() {
    // Two workers, 100 ms per call: 20 calls/s served of 100/s wanted.
    let mut schedule = open(100.0, 2, 1);
    schedule.timeout = Duration::from_secs(1);
    let (_, recorder, ran) = run(Fake::new(100), &schedule).await;
    let totals = recorder.totals();
    // Sends stop a timeout after the schedule ends: 2 s at 20/s. The other
    // 60 never left, and are recorded as such.
    assert_eq!(
        totals.outcomes,
        vec![
            (Outcome::new(Kind::Request, Status::Grpc(Code::Ok)), 40),
            (Outcome::new(Kind::Request, Status::NotSent), 60),
        ]
    );
    // All but the first two sent were due before a worker was free.
    assert_eq!(totals.delayed, 38);
    // Every request is in the latency, the unsent charged from their due
    // time (0.4 s to 0.99 s) to the give-up (2 s); only those sent have a
    // service time.
    assert_eq!(totals.latency.len(), 100);
    assert!(totals.latency.count_between(1_000_000, u64::MAX) >= 60);
    assert_eq!(totals.service.len(), 40);
    let h = &totals.service;
    assert!(h.equivalent(h.max(), 100_000), "{}", h.max());
    // The last one sent was due long before it could leave.
    assert!(
        totals.latency.max() >= 1_500_000,
        "{}",
        totals.latency.max()
    );

    // The report counts them once, as not sent and as errors.
    let parts = Parts {
        scenario: "read",
        target: "test".to_owned(),
        rate: Some(100.0),
        concurrency: 2,
        connections: 1,
        intended: schedule.planned().map(|(_, measured)| measured),
        elapsed: ran.elapsed,
        cpu: (Duration::ZERO, Duration::ZERO),
        series: Vec::new(),
    };
    let c = Report::new(parts, &totals).requests;
    assert_eq!(c.intended, Some(100));
    assert_eq!(
        (c.sent, c.completed, c.not_sent, c.errors),
        (40, 40, 60, 60)
    );
}

#[tokio::test(start_paused = true)]
async fn request_count_and_warmup_bound_the_open_loop() {
    let mut schedule = open(100.0, 10, 10);
    schedule.requests = Some(7);
    schedule.warmup = Duration::from_millis(500);
    assert_eq!(schedule.planned(), Some((50, 7)));
    let (fake, recorder, _) = run(Fake::new(1), &schedule).await;
    let totals = recorder.totals();
    assert_eq!((totals.latency.len(), totals.warmup), (7, 50));
    assert_eq!(fake.arrivals.lock().expect("lock").len(), 57);
}

#[tokio::test(start_paused = true)]
async fn closed_loop_workers_send_back_to_back_until_a_bound() {
    let closed = |requests| Schedule {
        mode: Mode::Closed,
        workers: 4,
        warmup: Duration::ZERO,
        duration: Duration::from_secs(1),
        requests,
        timeout: Duration::from_secs(5),
    };
    let (_, recorder, ran) = run(Fake::new(10), &closed(None)).await;
    assert_eq!(recorder.totals().latency.len(), 400);
    assert_eq!(ran.elapsed, Duration::from_secs(1));
    let (_, recorder, _) = run(Fake::new(10), &closed(Some(7))).await;
    assert_eq!(recorder.totals().latency.len(), 7);
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_times_out_each_request() {
    let fake = Fake {
        stall: Duration::from_secs(3600),
        stalled: u64::MAX,
        ..Fake::new(0)
    };
    let mut schedule = open(10.0, 100, 1);
    schedule.timeout = Duration::from_millis(300);
    let (_, recorder, _) = run(fake, &schedule).await;
    let totals = recorder.totals();
    assert_eq!(
        totals.outcomes,
        vec![(Outcome::new(Kind::Request, Status::Timeout), 10)]
    );
}

#[test]
fn planned_counts_do_not_suffer_from_float_noise() {
    let plan = |rate, ms| {
        let mut s = open(rate, 1, 0);
        s.duration = Duration::from_millis(ms);
        s.planned().expect("open loop").1
    };
    assert_eq!(plan(100.0, 3000), 300);
    assert_eq!(plan(3.0, 1000), 3);
    assert_eq!(plan(0.5, 3000), 2);
    assert_eq!(plan(7.0, 100), 1);
}
