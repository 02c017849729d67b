//! `report`: renders the recorded results of one run as docs/benchmarks.md: the machine, the
//! versions, the command, the tables, the ratios against etcd from the same run, and a reading
//! of each target. The reading is generated from the numbers so it can never drift from them.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::results::{self, LoadResult, Record, RssResult, WatchResult};
use crate::stats::kib_to_mb;

/// The targets, from shared/design/perf-anchors.md.
const WATCH_P99_TARGET_MS: f64 = 50.0;
const IDLE_RSS_TARGET_MB: f64 = 100.0;

/// Labels of the headline rounds start with this; svcplane and etcd share each round's label.
const ROUND: &str = "round";

/// Cores taken by everything else (other processes, kernel threads) beyond which a row is marked as disturbed.
const DISTURBED: f64 = 0.5;

fn mark(other_s: f64, seconds: f64) -> &'static str {
    if other_s / seconds > DISTURBED {
        " †"
    } else {
        ""
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// The JSON lines recorded by the measurements (repeatable: one file per part).
    #[arg(long, required_unless_present = "etcd_results")]
    results: Vec<PathBuf>,
    /// The etcd part's JSON lines: kept apart from `--results` so that its loads and watches
    /// stay out of the API part's tables and pairings.
    #[arg(long)]
    etcd_results: Option<PathBuf>,
    /// Versions of the DNS peers, one per line.
    #[arg(long, default_value = "")]
    dns_versions: String,
    /// Where to write the DNS plot (a PNG next to the page), when gnuplot is there.
    #[arg(long)]
    plot_dir: Option<PathBuf>,
    /// How the page links to the plot's directory (relative to the page).
    #[arg(long, default_value = ".")]
    plot_link: String,
    /// Where to write the Markdown.
    #[arg(long)]
    out: PathBuf,
    /// The command that produced the results, quoted in the document.
    #[arg(long)]
    command: String,
    #[arg(long, default_value = "unknown")]
    etcd_version: String,
    #[arg(long, default_value = "unknown")]
    commit: String,
    #[arg(long, default_value = "unknown")]
    date: String,
    /// The scheduling priority the servers and apibench ran at, as run.sh set it.
    #[arg(long, default_value = "default")]
    priority: String,
}

pub fn run(args: Args) -> Result<()> {
    let mut records = Vec::new();
    for path in &args.results {
        records.extend(results::read_all(path)?);
    }
    let meta = Meta {
        machine: machine(),
        command: args.command,
        etcd_version: args.etcd_version,
        commit: args.commit,
        date: args.date,
        priority: args.priority,
    };
    let mut doc = render(&meta, &records);
    crate::report_dns::render(
        &mut doc,
        &records,
        &args.dns_versions,
        args.plot_dir
            .as_deref()
            .map(|d| (d, args.plot_link.as_str())),
    );
    crate::report_scale::render(&mut doc, &records);
    if let Some(path) = &args.etcd_results {
        crate::report_etcd::render(&mut doc, &results::read_all(path)?);
    }
    std::fs::write(&args.out, doc).with_context(|| format!("writing {}", args.out.display()))?;
    println!("wrote {}", args.out.display());
    Ok(())
}

struct Meta {
    machine: String,
    command: String,
    etcd_version: String,
    commit: String,
    date: String,
    priority: String,
}

/// `N cores, M GiB, kernel K, CPU C` from /proc.
fn machine() -> String {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mem_kib: f64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, v)| v.trim());
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default();
    format!(
        "{cores} cores, {:.1} GiB memory, Linux {}, {os}, CPU {cpu}",
        mem_kib / 1024.0 / 1024.0,
        read("/proc/sys/kernel/osrelease").trim(),
    )
}

fn render(meta: &Meta, records: &[Record]) -> String {
    let loads: Vec<&LoadResult> = records
        .iter()
        .filter_map(|r| match r {
            Record::Load(l) => Some(l),
            _ => None,
        })
        .collect();
    let watches: Vec<&WatchResult> = records
        .iter()
        .filter_map(|r| match r {
            Record::Watch(w) => Some(w),
            _ => None,
        })
        .collect();
    let rss: Vec<&RssResult> = records
        .iter()
        .filter_map(|r| match r {
            Record::Rss(m) => Some(m),
            _ => None,
        })
        .collect();

    let mut doc = String::new();
    header(&mut doc, meta);
    if loads.is_empty() && watches.is_empty() {
        return doc;
    }
    doc.push_str("## API\n\n");
    api_method(&mut doc, meta, watches.first().map_or(1000, |w| w.watchers));
    targets(&mut doc, &loads, &watches, &rss);
    load_table(&mut doc, &loads);
    watch_table(&mut doc, &watches);
    rss_table(&mut doc, &rss);
    reading(&mut doc, &loads, &watches, &rss);
    doc
}

fn header(doc: &mut String, meta: &Meta) {
    let _ = write!(
        doc,
        "# Benchmarks\n\n\
         Generated by `bench/run.sh`; rerun it to refresh this file (`--only api|dns` reruns one \
         part and keeps the other's last results from bench/results/). On this shared \
         2-core machine absolute numbers move from run to run: compare svcplane with etcd, and \
         with the peer DNS servers, **within** the run (the ratios), as \
         shared/design/perf-anchors.md asks.\n\n\
         | | |\n| --- | --- |\n\
         | command | `{}` |\n| date | {} |\n| machine | {} |\n\
         | svcplane | commit {} |\n| etcd | {} (Debian `etcd-server`), one member, default fsync (durable) |\n\n",
        meta.command,
        meta.date,
        meta.machine,
        meta.commit,
        meta.etcd_version.lines().next().unwrap_or("unknown"),
    );
}

fn api_method(doc: &mut String, meta: &Meta, watchers: usize) {
    let _ = write!(
        doc,
        "### Method\n\n\
         Everything runs on loopback, and apibench shares the 2 cores with the server it measures \
         (its own CPU is reported). The servers and apibench ran at priority: {priority}{ahead}.\n\n\
         - **Durable writes** (`apibench creates`, `apibench etcd-puts`): a closed loop of N \
         clients, each with one operation in flight, measured by the same driver for both \
         servers; after a warm-up, operations completing in the window count. svcplane: \
         `POST` of a ConfigMap with 1 KiB of data (about 1.1 KiB of JSON), acknowledged only \
         after the store's fsync; by default the clients multiplex one HTTP/2 connection over \
         TLS with the admin token, as client-go does. etcd: a 1 KiB `Put` with the Rust \
         `etcd-client`, all clients sharing its one gRPC channel. svcplane and etcd alternate \
         in rounds.\n\
         - **Watch fan-out** (`apibench watch-fanout`): {watchers} watches on one namespace's \
         ConfigMaps, each on its own HTTPS connection (as {watchers} separate clients), all from \
         the resourceVersion of one list; a first write that every watcher must see proves \
         they are live; then ConfigMaps are created one at a time at a fixed rate, and each \
         delivery is timestamped when its bytes reach the watcher, before parsing. The delay is \
         counted from just before the write is sent (the verdict uses this one) and, for \
         reference, from its acknowledgement.\n\
         - **RSS** (`apibench rss`): VmRSS from /proc, 2 s after start (idle) and after all the \
         load above.\n\n\
         Rows marked † ran while everything else (other tenants' processes on this shared machine, \
         kernel threads) kept more than \
         {DISTURBED} of the 2 cores busy: treat them as disturbed.\n\n",
        priority = meta.priority,
        ahead = if meta.priority == "default" {
            ""
        } else {
            " (ahead of other tenants' builds on this shared machine)"
        },
    );
}

/// The headline rounds of `target`.
fn rounds<'a>(
    loads: &'a [&'a LoadResult],
    target: &'a str,
) -> impl Iterator<Item = &'a LoadResult> + 'a {
    loads
        .iter()
        .filter(move |l| l.target == target && l.label.starts_with(ROUND))
        .copied()
}

fn mean_rate(loads: &[&LoadResult], target: &str) -> Option<(f64, usize)> {
    let rounds: Vec<f64> = rounds(loads, target).map(|l| l.rate).collect();
    (!rounds.is_empty()).then(|| {
        (
            rounds.iter().sum::<f64>() / rounds.len() as f64,
            rounds.len(),
        )
    })
}

/// A target's verdict cell, shared by every part of the page.
pub(crate) fn verdict(ok: bool) -> &'static str {
    if ok { "**meets**" } else { "**misses**" }
}

fn targets(doc: &mut String, loads: &[&LoadResult], watches: &[&WatchResult], rss: &[&RssResult]) {
    doc.push_str("### Targets\n\n| target | measured | verdict |\n| --- | --- | --- |\n");
    let clients = loads
        .iter()
        .find(|l| l.label.starts_with(ROUND))
        .map_or(0, |l| l.clients);
    match (mean_rate(loads, "svcplane"), mean_rate(loads, "etcd")) {
        (Some((svc, n)), Some((etcd, _))) => {
            let _ = writeln!(
                doc,
                "| durable creates/s ≥ raw etcd puts/s, {clients} clients, same run | svcplane \
                 {svc:.0}/s vs etcd {etcd:.0}/s (mean of {n} round{plural} each): **{:.2}×** | {} |",
                svc / etcd,
                verdict(svc >= etcd),
                plural = if n == 1 { "" } else { "s" },
            );
        }
        _ => doc.push_str("| durable creates/s ≥ raw etcd puts/s | not measured | – |\n"),
    }
    match watches.first() {
        Some(w) => {
            let complete = w.deliveries == w.expected && w.broken_watches == 0;
            let _ = writeln!(
                doc,
                "| {} watchers see an event within {WATCH_P99_TARGET_MS} ms (p99) | p99 {:.1} ms \
                 from just before the write ({:.1} ms from its acknowledgement); {} of {} \
                 deliveries | {} |",
                w.watchers,
                w.from_write.p99_ms,
                w.from_ack.p99_ms,
                w.deliveries,
                w.expected,
                verdict(complete && w.from_write.p99_ms <= WATCH_P99_TARGET_MS)
            );
        }
        None => doc.push_str("| watch fan-out p99 ≤ 50 ms | not measured | – |\n"),
    }
    match rss
        .iter()
        .find(|r| r.process == "svcplane" && r.label == "idle")
    {
        Some(r) => {
            let mb = kib_to_mb(r.rss_kib);
            let _ = writeln!(
                doc,
                "| idle RSS ≤ {IDLE_RSS_TARGET_MB} MB | {mb:.1} MB | {} |",
                verdict(mb <= IDLE_RSS_TARGET_MB)
            );
        }
        None => doc.push_str("| idle RSS ≤ 100 MB | not measured | – |\n"),
    }
    doc.push('\n');
}

/// Server CPU per operation in µs.
fn per_op_us(load: &LoadResult) -> Option<f64> {
    load.cpu.server_s.map(|s| s * 1e6 / load.ops.max(1) as f64)
}

/// CPU seconds over a window as cores (`–` when unknown).
pub(crate) fn cores(seconds: Option<f64>, window: f64) -> String {
    seconds.map_or("–".into(), |s| format!("{:.2}", s / window))
}

fn load_table(doc: &mut String, loads: &[&LoadResult]) {
    if loads.is_empty() {
        return;
    }
    doc.push_str(
        "### Durable writes\n\n\
         In run order. *÷ etcd* is svcplane's rate over etcd's in the row with the same label. \
         *Cores* are CPU seconds over the window (2.00 = the whole machine): the server's, \
         apibench's, and everything else's (other tenants' processes on this shared machine, kernel \
         threads such as disk writeback).\n\n\
         | label | server | transport | clients | writes/s | p50 ms | p99 ms | max ms | errors | server CPU µs/write | server cores | client cores | other cores | ÷ etcd |\n\
         | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for load in loads {
        let ratio = (load.target == "svcplane")
            .then(|| {
                loads
                    .iter()
                    .find(|e| e.target == "etcd" && e.label == load.label)
            })
            .flatten()
            .map_or("–".into(), |etcd| {
                format!("{:.2}×", load.rate / etcd.rate)
            });
        let _ = writeln!(
            doc,
            "| {}{} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {} | {} | {} | {} | {ratio} |",
            load.label,
            mark(load.cpu.other_s, load.seconds),
            load.target,
            load.transport,
            load.clients,
            load.rate,
            load.latency.p50_ms,
            load.latency.p99_ms,
            load.latency.max_ms,
            load.errors,
            per_op_us(load).map_or("–".into(), |us| format!("{us:.0}")),
            cores(load.cpu.server_s, load.seconds),
            cores(Some(load.cpu.client_s), load.seconds),
            cores(Some(load.cpu.other_s), load.seconds),
        );
    }
    for load in loads.iter().filter(|l| l.first_error.is_some()) {
        let _ = writeln!(
            doc,
            "\nFirst error in *{}* ({}): `{}`",
            load.label,
            load.target,
            load.first_error.as_deref().unwrap_or_default()
        );
    }
    let threads: Vec<&&LoadResult> = loads
        .iter()
        .filter(|l| l.target == "svcplane" && !l.cpu.server_threads.is_empty())
        .collect();
    if !threads.is_empty() {
        doc.push_str(
            "\nsvcplane's busiest threads in the same windows, in cores (threads of one name \
             summed: `tokio-rt-worker` are the async workers doing HTTP, TLS and the API logic, \
             `store-writer` applies and commits the store's batches):\n\n\
             | label | transport | clients | threads |\n| --- | --- | ---: | --- |\n",
        );
        for load in threads {
            let _ = writeln!(
                doc,
                "| {} | {} | {} | {} |",
                load.label,
                load.transport,
                load.clients,
                load.cpu.threads(load.seconds)
            );
        }
    }
    doc.push('\n');
}

fn watch_table(doc: &mut String, watches: &[&WatchResult]) {
    if watches.is_empty() {
        return;
    }
    doc.push_str(
        "### Watch fan-out\n\n\
         Cores are counted from the first measured write to the last delivery.\n\n\
         | label | transport | watchers | events | writes/s | delivered | broken watches | from write p50 / p99 / max ms | from ack p50 / p99 / max ms | seen before ack | write p50 / p99 ms | setup s | server cores | client cores | other cores |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |\n",
    );
    for w in watches {
        let _ = writeln!(
            doc,
            "| {}{} | {} | {} | {:.1} | {} | {} | {} |",
            w.label,
            mark(w.cpu.other_s, w.cpu_seconds),
            w.transport,
            watch_cells(w, 1),
            w.setup_s,
            cores(w.cpu.server_s, w.cpu_seconds),
            cores(Some(w.cpu.client_s), w.cpu_seconds),
            cores(Some(w.cpu.other_s), w.cpu_seconds),
        );
    }
    doc.push('\n');
}

/// The cells every watch table shares, from *watchers* to *write p50 / p99 ms*, with
/// `decimals` digits for the delays.
pub(crate) fn watch_cells(w: &WatchResult, decimals: usize) -> String {
    let triple = |p: &crate::stats::Percentiles| {
        format!(
            "{:.d$} / {:.d$} / {:.d$}",
            p.p50_ms,
            p.p99_ms,
            p.max_ms,
            d = decimals
        )
    };
    format!(
        "{} | {} | {} | {} of {} | {} | {} | {} | {} | {:.d$} / {:.d$}",
        w.watchers,
        w.events,
        w.rate,
        w.deliveries,
        w.expected,
        w.broken_watches,
        triple(&w.from_write),
        triple(&w.from_ack),
        w.before_ack,
        w.write_latency.p50_ms,
        w.write_latency.p99_ms,
        d = decimals
    )
}

fn rss_table(doc: &mut String, rss: &[&RssResult]) {
    if rss.is_empty() {
        return;
    }
    doc.push_str(
        "### Memory\n\n| when | process | RSS MB | peak RSS MB |\n| --- | --- | ---: | ---: |\n",
    );
    for r in rss {
        let _ = writeln!(
            doc,
            "| {} | {} | {:.1} | {:.1} |",
            r.label,
            r.process,
            kib_to_mb(r.rss_kib),
            kib_to_mb(r.hwm_kib)
        );
    }
    doc.push('\n');
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn reading(doc: &mut String, loads: &[&LoadResult], watches: &[&WatchResult], rss: &[&RssResult]) {
    doc.push_str("### Reading\n\n");
    if let (Some((svc, _)), Some((etcd, _))) =
        (mean_rate(loads, "svcplane"), mean_rate(loads, "etcd"))
    {
        let p99 = |target| {
            rounds(loads, target)
                .map(|l| l.latency.p99_ms)
                .fold(0.0, f64::max)
        };
        let per_round: Vec<String> = rounds(loads, "svcplane")
            .filter_map(|l| {
                loads
                    .iter()
                    .find(|e| e.target == "etcd" && e.label == l.label)
                    .map(|e| format!("{:.2}×", l.rate / e.rate))
            })
            .collect();
        let _ = write!(
            doc,
            "- **Durable creates {} the target**: svcplane took {svc:.0} creates/s against \
             etcd's {etcd:.0} raw puts/s ({:.2}×; {} round by round), with a worst-round p99 \
             of {:.1} ms against etcd's {:.1} ms.",
            if svc >= etcd { "meet" } else { "miss" },
            svc / etcd,
            per_round.join(", "),
            p99("svcplane"),
            p99("etcd"),
        );
        let cpu = |target| mean(rounds(loads, target).filter_map(per_op_us));
        let busy = |target| {
            mean(rounds(loads, target).filter_map(|l| l.cpu.server_s.map(|s| s / l.seconds)))
        };
        if let (Some(s), Some(e), Some(sb), Some(eb)) =
            (cpu("svcplane"), cpu("etcd"), busy("svcplane"), busy("etcd"))
        {
            let _ = write!(
                doc,
                " svcplane spent {s:.0} µs of server CPU per create and kept {sb:.2} cores busy; \
                 etcd {e:.0} µs per put and {eb:.2} cores."
            );
        }
        if let Some(other) = mean(
            loads
                .iter()
                .filter(|l| l.label.starts_with(ROUND))
                .map(|l| l.cpu.other_s / l.seconds),
        ) {
            let _ = write!(
                doc,
                " Everything else took {other:.2} of the 2 cores on average during these rounds{}.",
                if other > 0.25 {
                    ", so both servers ran on a busy machine"
                } else {
                    ""
                }
            );
        }
        doc.push('\n');

        // Other svcplane configurations, each label averaged over its runs.
        let mut labels: Vec<&str> = Vec::new();
        for l in loads
            .iter()
            .filter(|l| l.target == "svcplane" && !l.label.starts_with(ROUND))
        {
            if !labels.contains(&l.label.as_str()) {
                labels.push(&l.label);
            }
        }
        for label in labels {
            let runs = |target: &'static str| {
                loads
                    .iter()
                    .filter(move |l| l.target == target && l.label == label)
                    .copied()
            };
            let Some(rate) = mean(runs("svcplane").map(|l| l.rate)) else {
                continue;
            };
            let p50 = mean(runs("svcplane").map(|l| l.latency.p50_ms)).unwrap_or(0.0);
            if let Some(etcd_rate) = mean(runs("etcd").map(|l| l.rate)) {
                let etcd_p50 = mean(runs("etcd").map(|l| l.latency.p50_ms)).unwrap_or(0.0);
                let _ = writeln!(
                    doc,
                    "- *{label}*: svcplane {rate:.0}/s (p50 {p50:.2} ms) against etcd \
                     {etcd_rate:.0}/s (p50 {etcd_p50:.2} ms), {:.2}×.",
                    rate / etcd_rate
                );
            } else {
                let cpu = mean(runs("svcplane").filter_map(per_op_us));
                let _ = writeln!(
                    doc,
                    "- *{label}*: {rate:.0} creates/s (p50 {p50:.2} ms), {:.2}× the headline \
                     rounds' {svc:.0}/s{}.",
                    rate / svc,
                    cpu.zip(cpu_of_rounds(loads))
                        .map_or(String::new(), |(v, h)| format!(
                            "; {v:.0} µs of server CPU per create against {h:.0}"
                        )),
                );
            }
        }
    }
    for (i, w) in watches.iter().enumerate() {
        let head = if i == 0 {
            let ok = w.deliveries == w.expected
                && w.broken_watches == 0
                && w.from_write.p99_ms <= WATCH_P99_TARGET_MS;
            format!(
                "**Watch fan-out {} the target** ({})",
                if ok { "meets" } else { "misses" },
                w.label
            )
        } else {
            format!("*Watch fan-out, {}*", w.label)
        };
        let _ = write!(
            doc,
            "- {head}: with {} watchers and {} writes/s, p99 {:.1} ms from just before the \
             write (max {:.1} ms), {:.1} ms from the acknowledgement; {} of {} deliveries \
             arrived{}. The writes themselves took p50 {:.1} ms, p99 {:.1} ms, and {:.0}% of \
             deliveries arrived before the writer had its acknowledgement: the delay is the \
             time the server takes to process a write while it fans the event out.",
            w.watchers,
            w.rate,
            w.from_write.p99_ms,
            w.from_write.max_ms,
            w.from_ack.p99_ms,
            w.deliveries,
            w.expected,
            if w.broken_watches > 0 {
                format!(" and {} watch streams broke", w.broken_watches)
            } else {
                String::new()
            },
            w.write_latency.p50_ms,
            w.write_latency.p99_ms,
            100.0 * w.before_ack as f64 / w.deliveries.max(1) as f64,
        );
        if let Some(s) = w.cpu.server_s {
            let _ = write!(
                doc,
                " The server spent {:.1} µs of CPU per delivery ({:.1} ms per event for all \
                 watchers).",
                s * 1e6 / w.deliveries.max(1) as f64,
                s * 1e3 / w.events.max(1) as f64,
            );
        }
        let other = w.cpu.other_s / w.cpu_seconds;
        if other > DISTURBED {
            let _ = write!(
                doc,
                " Everything else kept {other:.2} of the 2 cores busy meanwhile, so this is \
                 pessimistic."
            );
        }
        doc.push('\n');
    }
    let find = |process: &str, label: &str| {
        rss.iter()
            .find(|r| r.process == process && r.label == label)
            .map(|r| kib_to_mb(r.rss_kib))
    };
    if let (Some(svc), Some(etcd)) = (find("svcplane", "after load"), find("etcd", "after load")) {
        let _ = writeln!(
            doc,
            "- **Idle RSS** is {}; after all the load above svcplane held {svc:.0} MB, \
             etcd {etcd:.0} MB.",
            find("svcplane", "idle").map_or("not measured".into(), |idle| format!(
                "{idle:.1} MB ({} the {IDLE_RSS_TARGET_MB} MB target)",
                if idle <= IDLE_RSS_TARGET_MB {
                    "within"
                } else {
                    "over"
                }
            )),
        );
    }
    let watchers = watches.iter().map(|w| w.watchers).max().unwrap_or(0);
    let _ = writeln!(
        doc,
        "- apibench runs on the same 2 cores: the *client cores* columns show what it took from \
         the servers, which both pay alike in the write rounds. In the watch test, reading \
         {watchers} streams also delays the timestamps, so the fan-out delays are an upper bound."
    );
}

fn cpu_of_rounds(loads: &[&LoadResult]) -> Option<f64> {
    mean(rounds(loads, "svcplane").filter_map(per_op_us))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::CpuUse;

    fn load(label: &str, target: &str, rate: f64) -> Record {
        Record::Load(LoadResult {
            cpu: CpuUse {
                server_s: Some(10.0),
                server_threads: Vec::new(),
                client_s: 2.0,
                other_s: 0.5,
            },
            ..crate::results::load_fixture(label, target, rate)
        })
    }

    #[test]
    fn ratios_and_verdicts() {
        let records = vec![
            load("round 1", "etcd", 10_000.0),
            load("round 1", "svcplane", 5_000.0),
            load("round 2", "etcd", 10_000.0),
            load("round 2", "svcplane", 7_000.0),
            load("plain HTTP", "svcplane", 6_000.0),
            Record::Rss(RssResult {
                label: "idle".into(),
                process: "svcplane".into(),
                rss_kib: 20_000,
                hwm_kib: 21_000,
            }),
        ];
        let meta = Meta {
            machine: "m".into(),
            command: "bench/run.sh".into(),
            etcd_version: "etcd Version: 3.4.23\nGit SHA".into(),
            commit: "abc".into(),
            date: "d".into(),
            priority: "nice -10".into(),
        };
        let doc = render(&meta, &records);
        assert!(
            doc.contains(
                "svcplane 6000/s vs etcd 10000/s (mean of 2 rounds each): **0.60×** | **misses**"
            ),
            "{doc}"
        );
        assert!(doc.contains("| 20.5 MB | **meets** |"), "{doc}");
        assert!(doc.contains("| 0.50× |"));
        assert!(
            doc.contains(
                "*plain HTTP*: 6000 creates/s (p50 5.00 ms), 1.00× the headline rounds' 6000/s"
            ),
            "{doc}"
        );
        assert!(doc.contains("| watch fan-out p99 ≤ 50 ms | not measured |"));
        assert!(doc.contains("etcd Version: 3.4.23 (Debian"));
    }
}
