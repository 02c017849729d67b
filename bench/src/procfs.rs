//! What the benchmark reads from /proc: a process's memory and CPU time, and the open-files limit.

use anyhow::{Context, Result, bail};

/// /proc/PID/stat counts CPU time in clock ticks of USER_HZ, which is 100 on every Linux ABI
/// this runs on (the kernel converts to it for userspace whatever its internal HZ).
const USER_HZ: f64 = 100.0;

pub struct Memory {
    pub rss_kib: u64,
    /// The peak RSS since the process started.
    pub hwm_kib: u64,
}

pub fn memory(pid: u32) -> Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {name} in {path}"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// User plus system CPU seconds the process has used so far.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_cpu_seconds(&stat).with_context(|| format!("unexpected contents of {path}"))
}

fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may contain spaces: count from after it.
    // There, utime and stime are the 12th and 13th fields (fields 14 and 15 of the whole line).
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// CPU seconds the whole machine spent busy (not idle or waiting for IO) since boot, from the
/// first line of /proc/stat: with the server's and apibench's own share subtracted, what is left
/// is the other load on a shared machine during a measurement.
pub fn machine_busy_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    parse_machine_busy(&stat).context("unexpected contents of /proc/stat")
}

fn parse_machine_busy(stat: &str) -> Option<f64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user/nice]
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    Some(busy as f64 / USER_HZ)
}

/// CPU seconds so far of each thread of `pid`, by thread id, with the thread's name.
pub fn thread_cpu_seconds(pid: u32) -> Result<Vec<(u32, String, f64)>> {
    let dir = format!("/proc/{pid}/task");
    let mut threads = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        // A thread may exit between listing and reading: skip it.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let name = stat
            .split_once('(')
            .and_then(|(_, rest)| rest.rsplit_once(')'))
            .map_or("?", |(name, _)| name)
            .to_string();
        if let Some(cpu) = parse_cpu_seconds(&stat) {
            threads.push((tid, name, cpu));
        }
    }
    Ok(threads)
}

/// Fails early with a useful message when this process cannot open `needed` descriptors (one
/// per watch connection): otherwise connections fail halfway through with EMFILE.
pub fn check_open_files(needed: u64) -> Result<()> {
    let limits =
        std::fs::read_to_string("/proc/self/limits").context("reading /proc/self/limits")?;
    let soft = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|soft| soft.parse::<u64>().ok());
    match soft {
        Some(soft) if soft < needed => bail!(
            "the open-files limit is {soft}, below the {needed} this needs: raise it (ulimit -n) for \
             both the server and apibench"
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_from_stat_with_spaces_in_the_name() {
        let stat = "42 (tokio worker) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 1 2 3";
        assert_eq!(parse_cpu_seconds(stat), Some(3.0));
    }

    #[test]
    fn machine_busy_from_stat() {
        let stat = "cpu  100 50 30 1000 200 5 5 10 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        assert_eq!(parse_machine_busy(stat), Some(2.0));
    }

    #[test]
    fn own_process_is_readable() {
        let pid = std::process::id();
        assert!(memory(pid).unwrap().rss_kib > 0);
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        assert!(machine_busy_seconds().unwrap() > 0.0);
        assert!(!thread_cpu_seconds(pid).unwrap().is_empty());
    }
}
