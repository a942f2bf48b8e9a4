//! While the run goes: once a second the collector turns what the
//! workers recorded into a point of the time series, and the progress bar
//! (on stderr, only when it is a terminal and the report is not JSON)
//! shows the live rate and errors.

use std::{sync::Arc, time::Duration};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::{sync::oneshot, time::Instant};

use super::record::{Recorder, Second};

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

    fn second(&mut self, elapsed: u64, s: &Second) {
        self.completed += s.completed;
        self.errors += s.errors;
        self.bar.set_position(elapsed);
        self.bar.set_message(format!(
            "{} req/s, {} done, {} errors",
            s.completed, self.completed, self.errors
        ));
    }

    /// Removes the bar, before the report is printed.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Collects one point per second from `from` (the measured part's start)
/// until `done` fires, then a last one for the part-second at the end.
pub(crate) async fn collect(
    recorder: Arc<Recorder>,
    from: Instant,
    warmup: Duration,
    mut progress: Progress,
    mut done: oneshot::Receiver<()>,
) -> (Vec<Second>, Progress) {
    let mut series = Vec::new();
    let mut ticks = tokio::time::interval_at(from + Duration::from_secs(1), Duration::from_secs(1));
    let warm = warmup.as_secs();
    // Bounded: `done` fires when the engine, itself bounded, returns.
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let second = recorder.tick(series.len() as u64);
                progress.second(warm + second.second + 1, &second);
                series.push(second);
            }
            _ = &mut done => break,
        }
    }
    let last = recorder.tick(series.len() as u64);
    if last.completed > 0 {
        series.push(last);
    }
    (series, progress)
}
