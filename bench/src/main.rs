//! `ferrograd-bench`: the ferrograd half of the side-by-side benchmark of issue 11
//! (`bench/pytorch_reference.py` is the PyTorch half, `bench/run.sh` runs both and prints
//! the table).
//!
//! ```text
//! ferrograd-bench [--threads N] [--samples N] [WORKLOAD ...]   (default: all)
//! ferrograd-bench --list
//! ferrograd-bench ddp [--workers W] [--steps N] [--batch B] [--threads T] [--mpi]
//! ```
//!
//! Prints one line per workload, the same format as the PyTorch script:
//!
//! ```text
//! bench impl=ferrograd workload=w1_b128 threads=1 unit=ms median=1.42 min=1.38 max=1.51 n=7 samples=1.42,...
//! ```
//!
//! Lines starting with `#` are comments. The thread count (`--threads`, else the
//! environment variable `FERROGRAD_NUM_THREADS`, else 1, as in the PyTorch script) goes to
//! `ferrograd_autograd::set_num_threads` before any workload runs, and is recorded in every
//! line.

mod attention;
mod data_parallel;
mod measure;
mod workloads;

use std::process::ExitCode;

use workloads::{WORKLOADS, run};

const USAGE: &str = "usage: ferrograd-bench [--threads N] [--samples N] [WORKLOAD ...] | --list
       ferrograd-bench ddp [--workers W] [--steps N] [--batch B] [--threads T] [--mpi]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(Command::List) => {
            for (name, what) in WORKLOADS {
                println!("{name:8} {what}");
            }
            ExitCode::SUCCESS
        }
        Ok(Command::Run(opts)) => {
            ferrograd_autograd::set_num_threads(opts.threads);
            println!(
                "# ferrograd-bench threads={} samples={}",
                ferrograd_autograd::num_threads(),
                opts.samples
            );
            for name in &opts.workloads {
                let m = run(name, opts.samples).unwrap_or_else(|| unreachable!("checked by parse"));
                println!("{}", line(name, opts.threads, &m));
            }
            ExitCode::SUCCESS
        }
        Ok(Command::Ddp(opts)) => match data_parallel::run(&opts) {
            Ok(line) => {
                if let Some(line) = line {
                    println!("{line}");
                }
                ExitCode::SUCCESS
            }
            Err(msg) => {
                eprintln!("ferrograd-bench ddp: {msg}");
                ExitCode::FAILURE
            }
        },
        Err(msg) => {
            eprintln!("ferrograd-bench: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    List,
    Run(Options),
    Ddp(data_parallel::DdpOptions),
}

/// A run's settings.
#[derive(Debug, PartialEq)]
struct Options {
    threads: usize,
    samples: usize,
    workloads: Vec<String>,
}

fn parse(args: &[String]) -> Result<Command, String> {
    if args.first().is_some_and(|a| a == "ddp") {
        return parse_ddp(&args[1..]);
    }
    let env_threads = std::env::var("FERROGRAD_NUM_THREADS").ok();
    let mut threads = match env_threads {
        Some(t) => count("FERROGRAD_NUM_THREADS", &t)?,
        None => 1,
    };
    let mut samples = 7;
    let mut workloads = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--list" => return Ok(Command::List),
            "--threads" | "--samples" => {
                let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
                let n = count(a, v)?;
                if a == "--threads" {
                    threads = n;
                } else {
                    samples = n;
                }
            }
            "all" => workloads.extend(
                WORKLOADS
                    .iter()
                    .map(|(n, _)| n.to_string())
                    .filter(|n| !n.starts_with("mem_") && !n.starts_with("attn_")),
            ),
            w if WORKLOADS.iter().any(|(n, _)| *n == w) => workloads.push(w.to_string()),
            other => return Err(format!("unknown workload or option `{other}`")),
        }
    }
    if workloads.is_empty() {
        return parse(&[args, &["all".to_string()]].concat());
    }
    Ok(Command::Run(Options {
        threads,
        samples,
        workloads,
    }))
}

/// The options of `ferrograd-bench ddp`.
fn parse_ddp(args: &[String]) -> Result<Command, String> {
    let mut o = data_parallel::DdpOptions {
        workers: 2,
        steps: 20,
        batch: 32,
        threads: 1,
        mpi: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--mpi" {
            o.mpi = true;
            continue;
        }
        let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
        let n = count(a, v)?;
        match a.as_str() {
            "--workers" => o.workers = n,
            "--steps" => o.steps = n,
            "--batch" => o.batch = n,
            "--threads" => o.threads = n,
            other => return Err(format!("unknown ddp option `{other}`")),
        }
    }
    Ok(Command::Ddp(o))
}

/// A positive integer setting.
fn count(what: &str, v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{what} must be a positive integer, got `{v}`")),
    }
}

/// The output line of one workload.
fn line(name: &str, threads: usize, m: &workloads::Measured) -> String {
    let (median, min, max) = measure::summary(&m.samples).unwrap_or((f64::NAN, f64::NAN, f64::NAN));
    let samples: Vec<String> = m.samples.iter().map(|s| format!("{s:.6}")).collect();
    format!(
        "bench impl=ferrograd workload={name} threads={threads} unit={} median={median:.6} min={min:.6} max={max:.6} n={} samples={}",
        m.unit,
        m.samples.len(),
        samples.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parse_defaults_to_every_timed_workload() {
        let Ok(Command::Run(o)) = parse(&args("--samples 3")) else {
            panic!("expected a run");
        };
        assert_eq!(o.samples, 3);
        assert_eq!(
            o.workloads,
            ["w1_b128", "w1_b32", "w2", "w3", "w4", "w5", "w6"]
        );
    }

    #[test]
    fn parse_reads_the_ddp_options() {
        let Ok(Command::Ddp(o)) = parse(&args("ddp --workers 3 --steps 5 --mpi")) else {
            panic!("expected a ddp run");
        };
        assert_eq!(
            (o.workers, o.steps, o.batch, o.threads, o.mpi),
            (3, 5, 32, 1, true)
        );
        assert_eq!(
            parse(&args("ddp --epochs 2")),
            Err("unknown ddp option `--epochs`".to_string())
        );
        assert_eq!(
            parse(&args("ddp --workers 0")),
            Err("--workers must be a positive integer, got `0`".to_string())
        );
    }

    #[test]
    fn parse_rejects_unknown_workloads_and_zero_counts() {
        assert_eq!(
            parse(&args("w9")),
            Err("unknown workload or option `w9`".to_string())
        );
        assert_eq!(
            parse(&args("--threads 0 w1_b32")),
            Err("--threads must be a positive integer, got `0`".to_string())
        );
    }
}
