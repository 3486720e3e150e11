//! Timing, summary statistics and peak resident memory.

use std::time::Instant;

/// How many samples a workload takes and how much work goes into each.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Untimed calls before the first sample (page in buffers, fill caches).
    pub warmup: usize,
    /// Timed samples; the summary is over these.
    pub samples: usize,
    /// Calls per sample; a sample is their mean, so short calls are not lost in timer noise.
    pub reps: usize,
}

/// Runs `f` `plan.warmup` times untimed, then returns `plan.samples` samples of the mean
/// seconds per call over `plan.reps` calls each.
pub fn time_per_call(plan: Plan, mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..plan.warmup {
        f();
    }
    (0..plan.samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..plan.reps {
                f();
            }
            start.elapsed().as_secs_f64() / plan.reps as f64
        })
        .collect()
}

/// Median, minimum and maximum of `xs` (the median of an even count is the mean of the
/// middle two). `None` for an empty slice.
pub fn summary(xs: &[f64]) -> Option<(f64, f64, f64)> {
    if xs.is_empty() {
        return None;
    }
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    Some((median, s[0], s[n - 1]))
}

/// This process's peak resident set size in MiB (`VmHWM` of `/proc/self/status`), where
/// the system has it.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_takes_the_middle_of_odd_and_even_counts() {
        assert_eq!(summary(&[3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(summary(&[4.0, 1.0, 2.0, 3.0]), Some((2.5, 1.0, 4.0)));
        assert_eq!(summary(&[]), None);
    }
}
