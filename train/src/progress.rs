//! What `fit` prints with [`FitOptions::verbose`](crate::FitOptions::verbose): a progress
//! bar per epoch on a terminal (steps, ETA, time per step, samples per second, running
//! loss), one line per epoch otherwise (a log file, CI), and announcements of learning-rate
//! changes and early stops made by callbacks. Everything goes to standard error.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use crate::callbacks::Logs;

/// The printer of one `fit` run; silent unless verbose.
pub(crate) struct Reporter {
    verbose: bool,
    terminal: bool,
    epochs: usize,
    batch_size: usize,
}

/// One epoch's progress: its bar (on a terminal) and its start.
pub(crate) struct EpochProgress {
    bar: Option<ProgressBar>,
    start: Instant,
    steps: usize,
}

impl Reporter {
    pub(crate) fn new(verbose: bool, epochs: usize, batch_size: usize) -> Self {
        Reporter {
            verbose,
            terminal: std::io::stderr().is_terminal(),
            epochs,
            batch_size,
        }
    }

    /// Starts epoch `epoch` of `steps` batches.
    pub(crate) fn epoch(&self, epoch: usize, steps: usize) -> EpochProgress {
        let bar = (self.verbose && self.terminal).then(|| {
            let batch_size = self.batch_size as f64;
            let bar = ProgressBar::new(steps as u64);
            let style = ProgressStyle::with_template(
                "epoch {prefix} [{bar:30}] {pos}/{len} ETA {eta} {step} {throughput} {msg}",
            )
            .expect("valid template")
            .with_key("step", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/step", per_step(s.elapsed(), s.pos() as usize));
            })
            .with_key(
                "throughput",
                move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0} samples/s", s.per_sec() * batch_size);
                },
            )
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("{}/{}", epoch + 1, self.epochs));
            bar
        });
        EpochProgress {
            bar,
            start: Instant::now(),
            steps,
        }
    }

    /// After a batch: the running mean loss.
    pub(crate) fn batch(&self, progress: &EpochProgress, mean_loss: f64) {
        if let Some(bar) = &progress.bar {
            bar.set_message(format!("loss {mean_loss:.4}"));
            bar.inc(1);
        }
    }

    /// After the epoch's validation: its logs, on the bar or on a line of their own.
    pub(crate) fn epoch_end(
        &self,
        epoch: usize,
        progress: EpochProgress,
        steps_run: usize,
        logs: &Logs,
    ) {
        if !self.verbose {
            return;
        }
        let values: Vec<String> = logs
            .iter()
            .map(|(k, &v)| format!("{k} {}", number(v)))
            .collect();
        match progress.bar {
            Some(bar) => bar.finish_with_message(values.join("  ")),
            None => eprintln!(
                "{}",
                epoch_line(
                    epoch,
                    self.epochs,
                    steps_run,
                    progress.steps,
                    progress.start.elapsed(),
                    &values
                )
            ),
        }
    }

    /// A callback changed the learning rate in `hook`.
    pub(crate) fn lr_changed(&self, epoch: usize, hook: &str, from: f64, to: f64) {
        if self.verbose && from != to {
            eprintln!("{}", lr_line(epoch, self.epochs, hook, from, to));
        }
    }

    /// Callback `name` asked training to stop.
    pub(crate) fn stopped(&self, epoch: usize, name: &str) {
        if self.verbose {
            eprintln!(
                "epoch {}/{}: training stopped by {name}",
                epoch + 1,
                self.epochs
            );
        }
    }
}

/// An epoch's line without a terminal:
/// `epoch 2/10: 469/469 steps in 1.22s (2.6ms/step) - loss 0.1234 - lr 7.500e-4`.
fn epoch_line(
    epoch: usize,
    epochs: usize,
    steps_run: usize,
    steps: usize,
    elapsed: Duration,
    values: &[String],
) -> String {
    format!(
        "epoch {}/{epochs}: {steps_run}/{steps} steps in {} ({}/step) - {}",
        epoch + 1,
        per_step(elapsed, 1),
        per_step(elapsed, steps_run),
        values.join(" - ")
    )
}

/// `epoch 3/10: learning rate 0.010000 -> 0.005000 (on_epoch_end)`.
fn lr_line(epoch: usize, epochs: usize, hook: &str, from: f64, to: f64) -> String {
    format!(
        "epoch {}/{epochs}: learning rate {from:.6} -> {to:.6} ({hook})",
        epoch + 1
    )
}

/// A logged value: four decimals, or four significant digits below 10⁻³ (a learning
/// rate of 7.5e-4 would read 0.0008).
fn number(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// `elapsed / steps` in a readable unit (`12.3ms`, `1.2s`); `-` before the first step.
fn per_step(elapsed: Duration, steps: usize) -> String {
    if steps == 0 {
        return "-".into();
    }
    let secs = elapsed.as_secs_f64() / steps as f64;
    if secs < 1e-3 {
        format!("{:.0}µs", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.1}ms", secs * 1e3)
    } else {
        format!("{secs:.2}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_per_step_reads_in_a_sensible_unit() {
        assert_eq!(per_step(Duration::from_millis(30), 0), "-");
        assert_eq!(per_step(Duration::from_micros(900), 3), "300µs");
        assert_eq!(per_step(Duration::from_millis(37), 3), "12.3ms");
        assert_eq!(per_step(Duration::from_secs(5), 2), "2.50s");
    }

    #[test]
    fn small_values_keep_their_digits() {
        assert_eq!(number(0.12345), "0.1235");
        assert_eq!(number(0.00075), "7.500e-4");
        assert_eq!(number(0.0), "0.0000");
        assert_eq!(number(f64::NAN), "NaN");
    }

    #[test]
    fn lines_name_the_epoch_the_steps_and_the_change() {
        let values = ["loss 0.1234".to_string(), "lr 0.0010".to_string()];
        assert_eq!(
            epoch_line(1, 10, 40, 50, Duration::from_millis(800), &values),
            "epoch 2/10: 40/50 steps in 800.0ms (20.0ms/step) - loss 0.1234 - lr 0.0010"
        );
        assert_eq!(
            lr_line(2, 10, "on_epoch_end", 0.01, 0.005),
            "epoch 3/10: learning rate 0.010000 -> 0.005000 (on_epoch_end)"
        );
    }
}
