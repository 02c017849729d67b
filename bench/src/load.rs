//! The closed-loop load driver shared by `creates` and `etcd-puts`, so that svcplane and etcd are
//! measured by exactly the same method: N clients each issue one operation at a time, back to
//! back. After a warm-up, the operations that complete inside the window count towards the rate
//! and the latency percentiles.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::cpu::{self, CpuUse};
use crate::results::{LoadResult, Record};
use crate::stats::Percentiles;

/// Flags shared by the write loads.
#[derive(clap::Args, Clone)]
pub struct LoadArgs {
    /// Concurrent clients, each with one operation in flight.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// The measured window.
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// Load before the window, not measured (connections warm, store files grown).
    #[arg(long, default_value = "1s", value_parser = crate::parse_duration)]
    pub warmup: Duration,
    /// The server's PID, to report the CPU it used per operation.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Bytes of payload per object or value.
    #[arg(long, default_value_t = 1024)]
    pub payload: usize,
}

/// One client's operation.
pub trait Worker: Send + 'static {
    /// Performs operation number `seq` (unique for this worker).
    fn call(&mut self, seq: u64) -> impl Future<Output = Result<()>> + Send;
}

pub struct Outcome {
    pub seconds: f64,
    pub ops: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub rate: f64,
    pub latency: Percentiles,
    pub cpu: CpuUse,
}

/// What one client saw inside the window.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

pub async fn run<W: Worker>(workers: Vec<W>, args: &LoadArgs) -> Result<Outcome> {
    let start = Instant::now();
    let window_start = start + args.warmup;
    let window_end = window_start + args.duration;
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut seq = 0;
                while Instant::now() < window_end {
                    let began = Instant::now();
                    let result = worker.call(seq).await;
                    let done = Instant::now();
                    seq += 1;
                    if done < window_start || done >= window_end {
                        continue;
                    }
                    match result {
                        Ok(()) => tally.latencies.push(done - began),
                        Err(e) => {
                            tally.errors += 1;
                            tally.first_error.get_or_insert_with(|| format!("{e:#}"));
                        }
                    }
                }
                tally
            })
        })
        .collect();

    // CPU is sampled at the window's edges, while the clients run.
    tokio::time::sleep_until(window_start.into()).await;
    let probe = cpu::Probe::start(args.server_pid)?;
    tokio::time::sleep_until(window_end.into()).await;
    let cpu = probe.finish()?;

    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await?;
        all.latencies.extend(tally.latencies);
        all.errors += tally.errors;
        all.first_error = all.first_error.or(tally.first_error);
    }
    let seconds = args.duration.as_secs_f64();
    let ops = all.latencies.len() as u64;
    Ok(Outcome {
        seconds,
        ops,
        errors: all.errors,
        first_error: all.first_error,
        rate: ops as f64 / seconds,
        latency: Percentiles::of(&mut all.latencies),
        cpu,
    })
}

impl Outcome {
    pub fn into_record(
        self,
        label: &str,
        target: &str,
        transport: String,
        clients: usize,
    ) -> Record {
        Record::Load(LoadResult {
            label: label.to_string(),
            target: target.to_string(),
            transport,
            clients,
            seconds: self.seconds,
            ops: self.ops,
            errors: self.errors,
            first_error: self.first_error,
            rate: self.rate,
            latency: self.latency,
            cpu: self.cpu,
        })
    }

    /// The line printed for a human.
    pub fn summary(&self, what: &str) -> String {
        let mut line = format!(
            "{what}: {:.0}/s ({} in {:.1} s, {} errors), latency {}\n  CPU: {}",
            self.rate,
            self.ops,
            self.seconds,
            self.errors,
            self.latency,
            self.cpu.summary(self.seconds),
        );
        if let Some(server) = self.cpu.server_s {
            line.push_str(&format!(
                ", {:.0} µs of server CPU per operation",
                server * 1e6 / self.ops.max(1) as f64
            ));
        }
        if let Some(e) = &self.first_error {
            line.push_str(&format!("\n  first error: {e}"));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sleeper;

    impl Worker for Sleeper {
        async fn call(&mut self, seq: u64) -> Result<()> {
            tokio::time::sleep(Duration::from_millis(10)).await;
            anyhow::ensure!(seq.is_multiple_of(2), "odd");
            Ok(())
        }
    }

    #[tokio::test]
    async fn counts_only_the_window() {
        let args = LoadArgs {
            clients: 2,
            duration: Duration::from_millis(300),
            warmup: Duration::from_millis(100),
            server_pid: None,
            payload: 0,
        };
        let outcome = run(vec![Sleeper, Sleeper], &args).await.unwrap();
        // 2 clients × ~30 calls in the window, half of them failing.
        assert!((20..=32).contains(&outcome.ops), "{}", outcome.ops);
        assert!((20..=32).contains(&outcome.errors), "{}", outcome.errors);
        assert_eq!(outcome.first_error.as_deref(), Some("odd"));
        assert!(outcome.latency.p50_ms >= 10.0);
    }
}
