//! The etcd part of docs/benchmarks.md: durable creates through `svcplane server --etcd-servers`
//! against raw puts on the same 1- and 3-member etcd clusters, in alternating rounds, and watch
//! propagation between two replicas on one etcd (issue 5's targets: creates ≥ 0.8× raw puts,
//! replica-to-replica watch p99 ≤ 20 ms). Verdicts are computed from the recorded numbers.
//!
//! The rounds are labelled `etcd N member(s) round R` by bench/run.sh; svcplane and etcd rows of
//! one round share the label, which is how they are paired.

use std::fmt::Write as _;

use crate::report::{cores, verdict};
use crate::results::{LoadResult, Record, WatchResult};

const RATIO_TARGET: f64 = 0.8;
const REPLICA_WATCH_P99_TARGET_MS: f64 = 20.0;
/// The recorded target of `apibench etcd-puts --txn` rows.
const TXN_TARGET: &str = "etcd-txn";

/// The member count of a round's label (`etcd 3 members round 2` → 3).
fn members(label: &str) -> Option<usize> {
    let mut words = label.strip_prefix("etcd ")?.split_whitespace();
    let n = words.next()?.parse().ok()?;
    matches!(words.next(), Some("member" | "members")).then_some(n)
}

/// One cluster size's rounds: (svcplane, etcd) pairs with the same label.
struct Size<'a> {
    members: usize,
    pairs: Vec<(&'a LoadResult, &'a LoadResult)>,
    /// Raw create-if-absent transactions in the same rounds: the write kube-apiserver (and
    /// svcplane) must send etcd for a create, without anything above it.
    txns: Vec<&'a LoadResult>,
}

impl Size<'_> {
    fn mean(&self, pick: impl Fn(&(&LoadResult, &LoadResult)) -> f64) -> f64 {
        self.pairs.iter().map(pick).sum::<f64>() / self.pairs.len().max(1) as f64
    }
    fn svcplane(&self) -> f64 {
        self.mean(|(s, _)| s.rate)
    }
    fn etcd(&self) -> f64 {
        self.mean(|(_, e)| e.rate)
    }
    /// Ratio of the mean rates (each round weighs the same, as the rounds have equal windows).
    fn ratio(&self) -> f64 {
        self.svcplane() / self.etcd().max(f64::EPSILON)
    }
    fn errors(&self) -> u64 {
        self.pairs.iter().map(|(s, e)| s.errors + e.errors).sum()
    }
    /// Mean rate of the raw create transactions, when they were measured.
    fn txn(&self) -> Option<f64> {
        (!self.txns.is_empty())
            .then(|| self.txns.iter().map(|t| t.rate).sum::<f64>() / self.txns.len() as f64)
    }
}

/// What a load row wrote, by its recorded target.
fn writer(target: &str) -> &'static str {
    match target {
        "etcd" => "raw etcd puts",
        TXN_TARGET => "raw etcd create txns",
        _ => "svcplane creates",
    }
}

fn sizes<'a>(loads: &[&'a LoadResult]) -> Vec<Size<'a>> {
    let mut sizes: Vec<Size> = Vec::new();
    for svc in loads.iter().filter(|l| l.target == "svcplane") {
        let Some(n) = members(&svc.label) else {
            continue;
        };
        let Some(etcd) = loads
            .iter()
            .find(|e| e.target == "etcd" && e.label == svc.label)
        else {
            continue;
        };
        let txn = loads
            .iter()
            .find(|t| t.target == TXN_TARGET && t.label == svc.label);
        let size = match sizes.iter().position(|s| s.members == n) {
            Some(i) => &mut sizes[i],
            None => {
                sizes.push(Size {
                    members: n,
                    pairs: Vec::new(),
                    txns: Vec::new(),
                });
                sizes.last_mut().expect("just pushed")
            }
        };
        size.pairs.push((svc, etcd));
        size.txns.extend(txn);
    }
    sizes.sort_by_key(|s| s.members);
    sizes
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn complete(w: &WatchResult) -> bool {
    w.deliveries == w.expected && w.broken_watches == 0
}

pub fn render(doc: &mut String, records: &[Record]) {
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
    if loads.is_empty() && watches.is_empty() {
        return;
    }
    let sizes = sizes(&loads);
    method(doc, &loads, &watches);
    targets(doc, &sizes, &watches);
    load_table(doc, &loads);
    watch_table(doc, &watches);
    reading(doc, &sizes, &watches);
}

fn method(doc: &mut String, loads: &[&LoadResult], watches: &[&WatchResult]) {
    let clients = loads.first().map_or(64, |l| l.clients);
    let _ = write!(
        doc,
        "## svcplane on etcd, and replicas\n\n### Method\n\n\
         - **Clusters**: Debian's etcd, default flags (so every put is fsynced before it is \
         acknowledged), 1 member and then 3 members, each member with its own data dir on the \
         same disk and its client and peer URLs on loopback. Each cluster is fresh.\n\
         - **Durable writes**: on each cluster, in alternating rounds, raw 1 KiB puts \
         (`apibench etcd-puts`, the Rust etcd-client given every member's URL) and ConfigMap \
         creates with 1 KiB of data through `svcplane server --etcd-servers <every member>` \
         (`apibench creates`: HTTPS, one HTTP/2 connection, as client-go), both a closed loop \
         of {clients} clients by the same driver, counted after a warm-up. Each round also \
         runs raw *create transactions* (`apibench etcd-puts --txn`: put the key only if it \
         does not exist, one key per transaction): the request kube-apiserver sends etcd for \
         every create, and svcplane too, so it bounds what any API server on this etcd can \
         reach. A create is \
         acknowledged once etcd has committed it, so both rates are durable writes/s; the \
         ratio within a round is what counts on this shared machine. *Server cores* are \
         svcplane's own in its rows (etcd's CPU while serving it is in *other cores*), and the \
         etcd member's in the 1-member etcd rows; with 3 members there is no single server \
         process, so all of etcd is in *other cores*.\n"
    );
    if let Some(w) = watches.iter().find(|w| w.writes_elsewhere) {
        let _ = writeln!(
            doc,
            "- **Watch between replicas** (`apibench watch-fanout --write-url …`): two \
             `svcplane server` replicas on the 3-member etcd, each with its own port, \
             certificates and token. {} on replica B's ConfigMaps, from one list's \
             resourceVersion; ConfigMaps are created through replica A one at a time, {} at \
             {}/s; the delay runs from just before A is sent the write to B's watch stream \
             delivering it (timestamped when its bytes arrive, before parsing). A's write \
             reaches etcd, etcd's watch reaches B, and B's watch cache fans it out. The same \
             with writes and watch both on B is shown for comparison.",
            if w.watchers == 1 {
                "One watch".to_string()
            } else {
                format!("{} watches", w.watchers)
            },
            plural(w.events, "write", "writes"),
            w.rate,
        );
    }
    doc.push('\n');
}

fn targets(doc: &mut String, sizes: &[Size], watches: &[&WatchResult]) {
    doc.push_str("### Targets\n\n| target | measured | verdict |\n| --- | --- | --- |\n");
    for wanted in [1, 3] {
        let what = format!(
            "creates/s through svcplane ≥ {RATIO_TARGET}× raw puts/s, {}, same run",
            plural(wanted, "etcd member", "etcd members")
        );
        match sizes.iter().find(|s| s.members == wanted) {
            Some(size) => {
                let ratio = size.ratio();
                let _ = writeln!(
                    doc,
                    "| {what} | svcplane {:.0}/s vs etcd {:.0}/s (mean of {}): **{ratio:.2}×**{} | {} |",
                    size.svcplane(),
                    size.etcd(),
                    plural(size.pairs.len(), "round", "rounds"),
                    match size.errors() {
                        0 => String::new(),
                        n => format!(", {n} errors"),
                    },
                    verdict(ratio >= RATIO_TARGET && size.errors() == 0),
                );
                if let Some(txn) = size.txn() {
                    let _ = writeln!(
                        doc,
                        "| (reference, not a target) the same creates against raw create \
                         transactions, {} | svcplane {:.0}/s vs {txn:.0}/s: **{:.2}×**; the \
                         transactions alone are {:.2}× raw puts | – |",
                        plural(wanted, "etcd member", "etcd members"),
                        size.svcplane(),
                        size.svcplane() / txn.max(f64::EPSILON),
                        txn / size.etcd().max(f64::EPSILON),
                    );
                }
            }
            None => {
                let _ = writeln!(doc, "| {what} | not measured | – |");
            }
        }
    }
    match watches.iter().find(|w| w.writes_elsewhere) {
        Some(w) => {
            let _ = writeln!(
                doc,
                "| write through replica A → watch on replica B, p99 ≤ \
                 {REPLICA_WATCH_P99_TARGET_MS} ms | p99 {:.2} ms (p50 {:.2}, max {:.2}); {} of \
                 {} deliveries | {} |",
                w.from_write.p99_ms,
                w.from_write.p50_ms,
                w.from_write.max_ms,
                w.deliveries,
                w.expected,
                verdict(complete(w) && w.from_write.p99_ms <= REPLICA_WATCH_P99_TARGET_MS),
            );
        }
        None => {
            let _ = writeln!(
                doc,
                "| watch between replicas p99 ≤ {REPLICA_WATCH_P99_TARGET_MS} ms | not measured | – |"
            );
        }
    }
    doc.push('\n');
}

fn load_table(doc: &mut String, loads: &[&LoadResult]) {
    if loads.is_empty() {
        return;
    }
    doc.push_str(
        "### Durable writes on etcd\n\n\
         In run order; *÷ puts* is the row's rate over the raw puts' in the round with the same \
         label. Cores are CPU seconds over the window (2.00 = the whole machine).\n\n\
         | label | writer | transport | clients | writes/s | p50 ms | p99 ms | max ms | errors | server cores | client cores | other cores | ÷ puts |\n\
         | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for load in loads {
        let ratio = (load.target != "etcd")
            .then(|| {
                loads
                    .iter()
                    .find(|e| e.target == "etcd" && e.label == load.label)
            })
            .flatten()
            .map_or("–".into(), |etcd| {
                format!("{:.2}×", load.rate / etcd.rate.max(f64::EPSILON))
            });
        let _ = writeln!(
            doc,
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {} | {} | {} | {ratio} |",
            load.label,
            writer(&load.target),
            load.transport,
            load.clients,
            load.rate,
            load.latency.p50_ms,
            load.latency.p99_ms,
            load.latency.max_ms,
            load.errors,
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
    doc.push('\n');
}

fn watch_table(doc: &mut String, watches: &[&WatchResult]) {
    if watches.is_empty() {
        return;
    }
    doc.push_str(
        "### Watch propagation\n\n\
         | label | writes through | watchers | events | writes/s | delivered | broken watches | from write p50 / p99 / max ms | from ack p50 / p99 / max ms | seen before ack | write p50 / p99 ms | watched server cores | client cores | other cores |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- | ---: | ---: | ---: |\n",
    );
    for w in watches {
        let _ = writeln!(
            doc,
            "| {} | {} | {} | {} | {} | {} |",
            w.label,
            if w.writes_elsewhere {
                "the other replica"
            } else {
                "the watched replica"
            },
            crate::report::watch_cells(w, 2),
            cores(w.cpu.server_s, w.cpu_seconds),
            cores(Some(w.cpu.client_s), w.cpu_seconds),
            cores(Some(w.cpu.other_s), w.cpu_seconds),
        );
    }
    doc.push('\n');
}

fn reading(doc: &mut String, sizes: &[Size], watches: &[&WatchResult]) {
    if sizes.is_empty() && watches.is_empty() {
        return;
    }
    doc.push_str("### Reading\n\n");
    for size in sizes {
        let per_round: Vec<String> = size
            .pairs
            .iter()
            .map(|(s, e)| format!("{:.2}×", s.rate / e.rate.max(f64::EPSILON)))
            .collect();
        let ratio = size.ratio();
        let _ = writeln!(
            doc,
            "- **{}**: svcplane {:.0} creates/s against {:.0} raw puts/s, {ratio:.2}× ({} the \
             {RATIO_TARGET}× target; {} round by round); p99 {:.1} ms against {:.1} ms.",
            plural(size.members, "member", "members"),
            size.svcplane(),
            size.etcd(),
            if ratio >= RATIO_TARGET {
                "meets"
            } else {
                "misses"
            },
            per_round.join(", "),
            size.mean(|(s, _)| s.latency.p99_ms),
            size.mean(|(_, e)| e.latency.p99_ms),
        );
        if let Some(txn) = size.txn() {
            let _ = writeln!(
                doc,
                "  etcd itself took {txn:.0} create transactions/s, {:.2}× its puts. No API \
                 server can create with less than such a transaction (a blind put would \
                 overwrite an existing object), and etcd 3.4 runs them much slower than puts: \
                 each copies the shared read buffer, which grows with the write load (measured \
                 upstream in etcd-io/etcd#12692, fixed in 3.5 by etcd-io/etcd#12896). \
                 svcplane's creates were {:.2}× those transactions.",
                txn / size.etcd().max(f64::EPSILON),
                size.svcplane() / txn.max(f64::EPSILON),
            );
        }
    }
    if let (Some(one), Some(three)) = (
        sizes.iter().find(|s| s.members == 1),
        sizes.iter().find(|s| s.members == 3),
    ) {
        let _ = writeln!(
            doc,
            "- From 1 to 3 members (where a write is committed once a majority of members has \
             it on disk), raw puts went from {:.0}/s to {:.0}/s and creates through svcplane \
             from {:.0}/s to {:.0}/s.",
            one.etcd(),
            three.etcd(),
            one.svcplane(),
            three.svcplane(),
        );
    }
    let cross = watches.iter().find(|w| w.writes_elsewhere);
    let same = watches.iter().find(|w| !w.writes_elsewhere);
    if let Some(w) = cross {
        let _ = write!(
            doc,
            "- **Between replicas** a write through A reached a watch on B in p50 {:.2} ms, \
             p99 {:.2} ms (max {:.2} ms){}",
            w.from_write.p50_ms,
            w.from_write.p99_ms,
            w.from_write.max_ms,
            if complete(w) {
                String::new()
            } else {
                format!(
                    ", with {} of {} deliveries and {} broken watches",
                    w.deliveries, w.expected, w.broken_watches
                )
            },
        );
        match same {
            Some(s) => {
                let _ = writeln!(
                    doc,
                    "; with the write through B itself, p50 {:.2} ms, p99 {:.2} ms. The writes \
                     through A took p50 {:.2} ms, p99 {:.2} ms, and {:.0}% of deliveries on B \
                     arrived before A had acknowledged the write.",
                    s.from_write.p50_ms,
                    s.from_write.p99_ms,
                    w.write_latency.p50_ms,
                    w.write_latency.p99_ms,
                    100.0 * w.before_ack as f64 / w.deliveries.max(1) as f64,
                );
            }
            None => doc.push_str(".\n"),
        }
    }
    doc.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::CpuUse;
    use crate::stats::Percentiles;

    fn load(label: &str, target: &str, rate: f64) -> Record {
        Record::Load(crate::results::load_fixture(label, target, rate))
    }

    fn watch(label: &str, elsewhere: bool, p99_ms: f64) -> Record {
        let p = Percentiles {
            p50_ms: 3.0,
            p99_ms,
            max_ms: p99_ms + 1.0,
        };
        Record::Watch(WatchResult {
            label: label.into(),
            transport: "t".into(),
            watchers: 1,
            events: 500,
            rate: 20.0,
            setup_s: 0.1,
            deliveries: 500,
            expected: 500,
            broken_watches: 0,
            from_write: p,
            from_ack: p,
            before_ack: 0,
            write_latency: p,
            cpu: CpuUse::default(),
            cpu_seconds: 25.0,
            writes_elsewhere: elsewhere,
        })
    }

    #[test]
    fn labels_give_member_counts() {
        assert_eq!(members("etcd 1 member round 2"), Some(1));
        assert_eq!(members("etcd 3 members round 1"), Some(3));
        assert_eq!(members("round 1"), None);
        assert_eq!(members("etcd x members"), None);
        assert_eq!(members("etcd 3 replicas"), None);
    }

    #[test]
    fn ratios_and_verdicts() {
        let records = vec![
            load("etcd 1 member round 1", "etcd", 1000.0),
            load("etcd 1 member round 1", "svcplane", 900.0),
            load("etcd 1 member round 2", "etcd", 1000.0),
            load("etcd 1 member round 2", "svcplane", 700.0),
            load("etcd 1 member round 2", "etcd-txn", 500.0),
            load("etcd 3 members round 1", "etcd", 500.0),
            load("etcd 3 members round 1", "svcplane", 350.0),
            watch("same replica", false, 8.0),
            watch("between replicas", true, 12.5),
        ];
        let mut doc = String::new();
        render(&mut doc, &records);
        assert!(
            doc.contains("svcplane 800/s vs etcd 1000/s (mean of 2 rounds): **0.80×** | **meets**"),
            "{doc}"
        );
        assert!(
            doc.contains("svcplane 350/s vs etcd 500/s (mean of 1 round): **0.70×** | **misses**"),
            "{doc}"
        );
        assert!(doc.contains("| 0.90× |"), "{doc}");
        assert!(
            doc.contains(
                "svcplane 800/s vs 500/s: **1.60×**; the transactions alone are 0.50× raw puts"
            ),
            "{doc}"
        );
        assert!(doc.contains("| raw etcd create txns |"), "{doc}");
        assert!(!doc.contains("3 etcd members | svcplane 350/s vs"), "{doc}");
        assert!(
            doc.contains("p99 12.50 ms (p50 3.00, max 13.50); 500 of 500 deliveries | **meets**"),
            "{doc}"
        );
        assert!(doc.contains("| between replicas | the other replica |"));
        assert!(doc.contains("One watch on replica B's ConfigMaps"), "{doc}");
    }

    #[test]
    fn missing_parts_are_not_measured() {
        let mut doc = String::new();
        render(
            &mut doc,
            &[
                load("etcd 1 member round 1", "etcd", 1000.0),
                load("etcd 1 member round 1", "svcplane", 900.0),
            ],
        );
        assert!(
            doc.contains("3 etcd members, same run | not measured |"),
            "{doc}"
        );
        assert!(doc.contains("p99 ≤ 20 ms | not measured |"), "{doc}");
    }
}
