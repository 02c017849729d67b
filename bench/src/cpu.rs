//! Where the CPU went during a measurement window: the server (in total and by thread name),
//! apibench itself, and everything else on the machine. On a shared 2-core machine the last one
//! says how far a number can be trusted, and the server's threads say what it was busy with.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::procfs;

/// Thread groups beyond this many are left out of a record.
const TOP_THREADS: usize = 4;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CpuUse {
    /// CPU seconds of the server, when its PID was given.
    pub server_s: Option<f64>,
    /// The server's busiest threads, summed by name (tokio's workers share one).
    #[serde(default)]
    pub server_threads: Vec<ThreadCpu>,
    pub client_s: f64,
    /// The rest of the machine: other processes, and the kernel's work not charged to either.
    pub other_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThreadCpu {
    pub name: String,
    pub cpu_s: f64,
}

/// The counters at the start of a window.
pub struct Probe {
    server: Option<u32>,
    server_s: Option<f64>,
    threads: Vec<(u32, String, f64)>,
    client_s: f64,
    machine_s: f64,
}

impl Probe {
    pub fn start(server: Option<u32>) -> Result<Probe> {
        Ok(Probe {
            server,
            server_s: server.map(procfs::cpu_seconds).transpose()?,
            threads: match server {
                Some(pid) => procfs::thread_cpu_seconds(pid)?,
                None => Vec::new(),
            },
            client_s: procfs::cpu_seconds(std::process::id())?,
            machine_s: procfs::machine_busy_seconds()?,
        })
    }

    pub fn finish(self) -> Result<CpuUse> {
        let client_s = procfs::cpu_seconds(std::process::id())? - self.client_s;
        let machine_s = procfs::machine_busy_seconds()? - self.machine_s;
        let (server_s, server_threads) = match (self.server, self.server_s) {
            (Some(pid), Some(before)) => {
                let threads = thread_deltas(&self.threads, &procfs::thread_cpu_seconds(pid)?);
                (Some(procfs::cpu_seconds(pid)? - before), threads)
            }
            _ => (None, Vec::new()),
        };
        Ok(CpuUse {
            server_s,
            server_threads,
            client_s,
            other_s: (machine_s - client_s - server_s.unwrap_or(0.0)).max(0.0),
        })
    }
}

/// CPU used between two samples, summed by thread name, busiest first. A thread that started in
/// between counts from zero.
fn thread_deltas(before: &[(u32, String, f64)], after: &[(u32, String, f64)]) -> Vec<ThreadCpu> {
    let mut by_name: BTreeMap<&str, f64> = BTreeMap::new();
    for (tid, name, cpu) in after {
        let start = before
            .iter()
            .find(|(t, _, _)| t == tid)
            .map_or(0.0, |(_, _, c)| *c);
        *by_name.entry(name).or_default() += cpu - start;
    }
    let mut threads: Vec<ThreadCpu> = by_name
        .into_iter()
        .filter(|(_, cpu)| *cpu > 0.0)
        .map(|(name, cpu_s)| ThreadCpu {
            name: name.to_string(),
            cpu_s,
        })
        .collect();
    threads.sort_by(|a, b| b.cpu_s.total_cmp(&a.cpu_s));
    threads.truncate(TOP_THREADS);
    threads
}

impl CpuUse {
    /// `server 1.20 cores (tokio-runtime-w 0.90, store-writer 0.25), client 0.30, other 0.10`.
    pub fn summary(&self, seconds: f64) -> String {
        let mut line = String::new();
        if let Some(server) = self.server_s {
            line.push_str(&format!(
                "server {:.2} cores ({}), ",
                server / seconds,
                self.threads(seconds)
            ));
        }
        line.push_str(&format!(
            "client {:.2}, other {:.2}",
            self.client_s / seconds,
            self.other_s / seconds
        ));
        line
    }

    /// The server's busiest threads in cores, e.g. `tokio-runtime-w 0.90, store-writer 0.25`.
    pub fn threads(&self, seconds: f64) -> String {
        self.server_threads
            .iter()
            .map(|t| format!("{} {:.2}", t.name, t.cpu_s / seconds))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_by_name() {
        let before = vec![
            (1, "w".to_string(), 1.0),
            (2, "w".to_string(), 2.0),
            (3, "x".into(), 5.0),
        ];
        let after = vec![
            (1, "w".to_string(), 1.5),
            (2, "w".to_string(), 3.0),
            (3, "x".into(), 5.0),
            (4, "y".into(), 0.25),
        ];
        let deltas = thread_deltas(&before, &after);
        let got: Vec<(&str, f64)> = deltas.iter().map(|t| (t.name.as_str(), t.cpu_s)).collect();
        assert_eq!(got, vec![("w", 1.5), ("y", 0.25)]);
    }
}
