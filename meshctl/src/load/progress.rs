//! While the run goes: about once a second the collector turns what the
//! workers recorded into a point of the time series, labelled with the
//! real time it covers, and the progress bar (on stderr, only when it is a
//! terminal and the report is not JSON) shows the live rate and errors.

use std::{sync::Arc, time::Duration};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::{
    sync::oneshot,
    time::{Instant, MissedTickBehavior},
};

use super::record::{Interval, Recorder};

/// The live view of a run.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: ProgressBar,
    completed: u64,
    errors: u64,
}

impl Progress {
    /// A bar over `seconds` seconds, drawn only if `visible`.
    pub(crate) fn new(visible: bool, seconds: u64) -> Self {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(seconds), target);
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} s  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message("starting");
        if visible {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        Self {
            bar,
            completed: 0,
            errors: 0,
        }
    }

    /// Shows point `p`; `warmup` is how long the run went before it was measured.
    fn point(&mut self, warmup: Duration, p: &Interval) {
        self.completed += p.completed;
        self.errors += p.errors;
        self.bar
            .set_position((warmup.as_secs_f64() + p.end_s).floor() as u64);
        self.bar.set_message(format!(
            "{:.0} req/s, {} done, {} errors",
            p.completed_rps, self.completed, self.errors
        ));
    }

    /// Removes the bar, before the report is printed.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Collects a point about every second from `from` (the measured part's
/// start) until `done` fires, then a last one for the part-second at the end.
pub(crate) async fn collect(
    recorder: Arc<Recorder>,
    from: Instant,
    warmup: Duration,
    mut progress: Progress,
    mut done: oneshot::Receiver<()>,
) -> (Vec<Interval>, Progress) {
    const PERIOD: Duration = Duration::from_secs(1);
    let mut series = Vec::new();
    let mut ticks = tokio::time::interval_at(from + PERIOD, PERIOD);
    // After a late tick, carry on a period later instead of catching up
    // with ticks back to back, which would make near-empty points.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut previous = from;
    let mut point = |now: Instant| {
        let p = recorder.tick(
            now.saturating_duration_since(from),
            now.saturating_duration_since(previous),
        );
        previous = now;
        p
    };
    // Bounded: `done` fires when the engine, itself bounded, returns.
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                // A late tick's deadline is long past: label by the clock.
                let p = point(Instant::now());
                progress.point(warmup, &p);
                series.push(p);
            }
            _ = &mut done => break,
        }
    }
    let last = point(Instant::now());
    if last.completed + last.errors > 0 {
        series.push(last);
    }
    (series, progress)
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;
    use crate::load::{
        outcome::{Kind, Outcome, Status},
        record::Sample,
    };

    fn record(recorder: &Recorder, status: Status) {
        let sample = Sample {
            outcome: Outcome::new(Kind::Request, status),
            latency: Duration::from_millis(5),
            service: Some(Duration::from_millis(5)),
            delayed: false,
            warmup: false,
        };
        recorder.record(0, sample);
    }

    #[tokio::test(start_paused = true)]
    async fn points_are_labelled_by_real_time_and_a_late_tick_brings_no_burst() {
        let recorder = Arc::new(Recorder::new(1));
        let from = Instant::now();
        let (done, finished) = oneshot::channel();
        let progress = Progress::new(false, 10);
        let collector = tokio::spawn(collect(
            recorder.clone(),
            from,
            Duration::ZERO,
            progress,
            finished,
        ));
        tokio::task::yield_now().await;
        record(&recorder, Status::Grpc(Code::Ok));
        // The collector misses the ticks due at 1, 2 and 3 s.
        tokio::time::advance(Duration::from_millis(3500)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        record(&recorder, Status::Grpc(Code::Ok));
        record(&recorder, Status::Timeout);
        // The next tick is a period after the late one: at 4.5 s.
        tokio::time::sleep(Duration::from_secs(1)).await;
        record(&recorder, Status::Grpc(Code::Ok));
        tokio::time::sleep(Duration::from_millis(200)).await;
        done.send(()).expect("collector running");
        let (series, _) = collector.await.expect("collector");

        let shape: Vec<_> = series
            .iter()
            .map(|p| (p.end_s, p.width_s, p.completed, p.errors))
            .collect();
        assert_eq!(
            shape,
            [(3.5, 3.5, 1, 0), (4.5, 1.0, 1, 1), (4.8, 0.3, 1, 0)],
            "{series:?}"
        );
        let rates: Vec<_> = series.iter().map(|p| p.completed_rps).collect();
        assert_eq!(rates, [0.3, 1.0, 3.3]);
    }
}
