//! The DNS section of docs/benchmarks.md: the correctness gate, dnsperf results per cluster
//! size with ratios against Knot from the same run, per-type costs, propagation, memory, the
//! targets of perf-anchors.md and a reading generated from the numbers.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use crate::dns::model;
use crate::report::verdict;
use crate::results::{
    DnsCheckResult, DnsPerfResult, DnsPropagationResult, Record, RssResult, is_scale_label,
};
use crate::stats::kib_to_mb;

const ANCHOR: &str = "knot";
const PROPAGATION_P99_MS: f64 = 5.0;
const RSS_TARGET_MB: f64 = 64.0;
/// The ratios the targets ask for.
const QPS_VS_KNOT: f64 = 0.95;
const QPS_LARGE_VS_SMALL: f64 = 0.9;
const TYPE_VS_A: f64 = 2.0;

struct Data<'a> {
    perf: Vec<&'a DnsPerfResult>,
    checks: Vec<&'a DnsCheckResult>,
    props: Vec<&'a DnsPropagationResult>,
    rss: Vec<&'a RssResult>,
    sizes: Vec<usize>,
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

impl Data<'_> {
    /// The throughput rounds of one server at one size.
    fn rounds(&self, size: usize, server: &str) -> Vec<&DnsPerfResult> {
        self.perf
            .iter()
            .filter(|p| p.services == size && p.server == server && p.label.starts_with("round"))
            .copied()
            .collect()
    }

    fn mean_of(&self, size: usize, server: &str, f: fn(&DnsPerfResult) -> f64) -> Option<f64> {
        mean(self.rounds(size, server).into_iter().map(f))
    }

    fn servers(&self, size: usize) -> Vec<String> {
        let mut seen = Vec::new();
        for p in self
            .perf
            .iter()
            .filter(|p| p.services == size && p.label.starts_with("round"))
        {
            if !seen.contains(&p.server) {
                seen.push(p.server.clone());
            }
        }
        seen
    }

    /// Mismatches and checked queries of the gate, or None when the server was not checked.
    fn gate(&self, size: usize, server: &str) -> Option<(usize, usize)> {
        let rows: Vec<_> = self
            .checks
            .iter()
            .filter(|c| c.services == size && c.server == server)
            .collect();
        (!rows.is_empty()).then(|| {
            (
                rows.iter().map(|c| c.mismatches).sum(),
                rows.iter().map(|c| c.checked).sum(),
            )
        })
    }

    fn passes(&self, size: usize, server: &str) -> bool {
        matches!(self.gate(size, server), Some((0, _)))
    }

    fn per_type(&self, size: usize, server: &str, kind: &str) -> Option<&DnsPerfResult> {
        self.perf
            .iter()
            .find(|p| {
                p.services == size && p.server == server && p.kind == kind && p.label == "per type"
            })
            .copied()
    }
}

fn size_name(size: usize) -> String {
    if size >= 1000 && size.is_multiple_of(1000) {
        format!("{}k", size / 1000)
    } else {
        size.to_string()
    }
}

/// `plot`: the directory to write the PNG to, and the same directory as the page links it.
pub fn render(doc: &mut String, records: &[Record], versions: &str, plot: Option<(&Path, &str)>) {
    let mut d = Data {
        perf: Vec::new(),
        checks: Vec::new(),
        props: Vec::new(),
        rss: Vec::new(),
        sizes: Vec::new(),
    };
    for r in records {
        match r {
            Record::DnsPerf(p) if !is_scale_label(&p.label) => d.perf.push(p),
            Record::DnsCheck(c) if !is_scale_label(&c.label) => d.checks.push(c),
            Record::DnsPropagation(p) => d.props.push(p),
            Record::Rss(r) if r.process == "svcplane dns" => d.rss.push(r),
            _ => {}
        }
    }
    if d.perf.is_empty() {
        return;
    }
    d.sizes = d
        .perf
        .iter()
        .map(|p| p.services)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    method(doc, &d, versions);
    targets(doc, &d);
    gate_table(doc, &d);
    results_tables(doc, &d);
    if let Some((dir, link)) = plot
        && let Some(file) = crate::dns_plot::plot(&d.perf, &d.sizes, dir)
    {
        let _ = writeln!(
            doc,
            "![qps and server CPU per query, per server and size]({link}/{file})\n"
        );
    }
    per_type_table(doc, &d);
    propagation_and_memory(doc, &d);
    reading(doc, &d);
}

fn method(doc: &mut String, d: &Data, versions: &str) {
    let rounds = d
        .sizes
        .first()
        .map_or(0, |&s| d.rounds(s, "svcplane").len());
    let seconds = d
        .perf
        .iter()
        .find(|p| p.label.starts_with("round"))
        .map_or(0.0, |p| p.seconds);
    let shapes: Vec<String> = d
        .sizes
        .iter()
        .map(|&s| {
            let c = model::generate(s);
            format!(
                "{} Services in {} namespaces ({} ClusterIP, {} headless with {} pods)",
                s,
                c.namespaces.len(),
                c.cluster_ip().count(),
                c.headless().count(),
                c.pods()
            )
        })
        .collect();
    let _ = write!(
        doc,
        "## DNS\n\n### Method\n\n\
         - **Workload** (`apibench dns-workload`): one generated cluster per size: {}. 70% of \
         the Services are ClusterIP with a named port `http`/TCP (A, SRV, PTR), 30% headless \
         with 3–20 ready endpoints (every third with StatefulSet-style hostnames `web-0`…, the \
         others named by dashed IP); ClusterIPs from 10.96.0.0/12, pod IPs from 10.244.0.0/16 \
         (data only). The same model gives the objects loaded into svcplane, the peers' zone \
         data and the expected answers, so all servers hold the same records; TTL 5.\n\
         - **svcplane**: `svcplane server --no-controllers --nodes 0 --dns-listen none` holds \
         the objects (Services through the API, the EndpointSlices written directly through the \
         API, so the content is exactly known; HTTP/2, 128 creates in flight), and a separate \
         `svcplane dns --kubeconfig` process, the one measured, watches it like any cluster DNS.\n\
         - **Peers** (Debian packages, run in the foreground from a temp dir on a free loopback \
         port): Knot DNS and NSD (response rate limiting off) and BIND 9 loading the zone files \
         `cluster.local` and `10.in-addr.arpa`; Unbound from `local-zone: static` + \
         `local-data`; dnsmasq from a hosts file and `srv-host` lines (`--local` for both \
         zones, so misses are NXDOMAIN); the fixed-answer responder (`apibench dns-responder`, a \
         single-threaded loop that answers every query with one A record) is the ceiling. Each \
         server runs one worker thread/process. dnsmasq is left out above 20k Services: its \
         NXDOMAIN and PTR lookups are linear scans, so the gate alone would take many minutes. \
         Versions: {}.\n\
         - **Gate first** (`apibench dns-check`): every server is asked the same 200 queries of \
         each type; rcode, answer count and the answer data (order-insensitive; SRV port and \
         target) must match the model. The responder is not checked (it answers one address \
         to everything).\n\
         - **Throughput** (`apibench dns-perf`): every server is pinned to core 0 and dnsperf to \
         core 1 (`taskset`); dnsperf `-c 4 -T 1 -q 100`, {seconds:.0} s per run, no `-Q` cap, \
         replaying a 100k-query file with the mix 60% Service A, 15% headless A, 10% SRV \
         (`_http._tcp.<svc>.<ns>.svc.cluster.local`), 10% search-path misses that must be \
         NXDOMAIN (`<svc>.<ns>.svc.cluster.local.<ns>.svc.cluster.local`, \
         `api.example.com.<ns>.svc.cluster.local`, `….svc.cluster.local`, `….cluster.local`, \
         `<svc>.<other-ns>.svc.cluster.local`) and 5% PTR (half ClusterIPs, half pod IPs). \
         {rounds} rounds, the server order rotated each round. **Server CPU µs/query** = the \
         server's utime+stime from /proc over the run (its whole process tree) ÷ queries \
         completed: the figure to compare, because the fastest servers are capped by dnsperf's \
         own core and qps moves with the neighbours' load. *dnsperf* and *other* cores say how \
         busy the client core and the rest of the machine were.\n\
         - **Latency**: dnsperf's mean from the throughput rounds; p50/p99 from one extra run \
         per server with `-v` (every query's latency; printing them slows dnsperf, so that run's \
         qps is not used). With 100 queries in flight per socket the latency is mostly queueing.\n\
         - **Per type**: svcplane and Knot with one query type per file; **propagation** \
         (`apibench dns-propagation`): a headless Service's only endpoint is flipped through \
         the API (merge patch of its EndpointSlice), and from just before the write a UDP client \
         asks svcplane back to back until the answer is the new address; RSS is VmRSS from \
         /proc (for NSD, its largest process).\n\n",
        shapes.join("; "),
        if versions.trim().is_empty() {
            "unknown".to_string()
        } else {
            versions.lines().collect::<Vec<_>>().join(", ")
        },
    );
}

/// (Services, pods, MB) of the dedicated memory measurement, labelled
/// `dns memory, <S> Services, <P> pods`.
fn memory_shape(d: &Data) -> Option<(usize, u64, f64)> {
    d.rss
        .iter()
        .filter_map(|r| {
            let rest = r.label.strip_prefix("dns memory, ")?;
            let (services, pods) = rest.split_once(" Services, ")?;
            let pods = pods.strip_suffix(" pods")?;
            Some((
                services.parse().ok()?,
                pods.parse().ok()?,
                kib_to_mb(r.rss_kib),
            ))
        })
        .max_by_key(|(s, p, _)| (*s, *p))
}

/// The memory target's row: judged only at (or above) the target's cluster size.
fn memory_row(doc: &mut String, services: usize, pods: u64, mb: f64) {
    let shape_ok = services >= 10_000 && pods >= 100_000;
    let _ = writeln!(
        doc,
        "| `svcplane dns` RSS ≤ {RSS_TARGET_MB} MB at 100k pods / 10k Services | {mb:.1} MB with {services} Services and {pods} pods{} | {} |",
        if shape_ok {
            ""
        } else {
            " (a smaller cluster than the target's: no verdict)"
        },
        if shape_ok {
            verdict(mb <= RSS_TARGET_MB)
        } else {
            "–"
        }
    );
}

fn targets(doc: &mut String, d: &Data) {
    doc.push_str("### DNS targets\n\n| target | measured | verdict |\n| --- | --- | --- |\n");
    let svc_ok = |size| d.passes(size, "svcplane");
    for &size in &d.sizes {
        let (Some(sc), Some(kc), Some(sq), Some(kq)) = (
            d.mean_of(size, "svcplane", |p| p.server_cpu_us_per_query),
            d.mean_of(size, ANCHOR, |p| p.server_cpu_us_per_query),
            d.mean_of(size, "svcplane", |p| p.qps),
            d.mean_of(size, ANCHOR, |p| p.qps),
        ) else {
            continue;
        };
        let gate = if svc_ok(size) {
            ""
        } else {
            " (svcplane fails the gate)"
        };
        let _ = writeln!(
            doc,
            "| server CPU/query ≤ Knot's, {} Services | {sc:.2} µs vs {kc:.2} µs: **{:.2}×**{gate} | {} |",
            size_name(size),
            sc / kc,
            verdict(sc <= kc && svc_ok(size))
        );
        let _ = writeln!(
            doc,
            "| qps ≥ {QPS_VS_KNOT}× Knot's, {} Services | {sq:.0} vs {kq:.0}: **{:.2}×**{gate} | {} |",
            size_name(size),
            sq / kq,
            verdict(sq >= QPS_VS_KNOT * kq && svc_ok(size))
        );
    }
    if let (Some(&small), Some(&large)) = (d.sizes.first(), d.sizes.last())
        && small != large
        && let (Some(qs), Some(ql)) = (
            d.mean_of(small, "svcplane", |p| p.qps),
            d.mean_of(large, "svcplane", |p| p.qps),
        )
    {
        let _ = writeln!(
            doc,
            "| svcplane qps at {} ≥ {QPS_LARGE_VS_SMALL}× qps at {} | {ql:.0} vs {qs:.0}: **{:.2}×** | {} |",
            size_name(large),
            size_name(small),
            ql / qs,
            verdict(ql >= QPS_LARGE_VS_SMALL * qs)
        );
    }
    for &size in &d.sizes {
        let Some(a) = d.per_type(size, "svcplane", "a") else {
            continue;
        };
        let worst = ["headless", "srv", "nxdomain", "ptr"]
            .into_iter()
            .filter_map(|k| d.per_type(size, "svcplane", k))
            .map(|p| {
                (
                    p.kind.clone(),
                    p.server_cpu_us_per_query / a.server_cpu_us_per_query,
                )
            })
            .max_by(|x, y| x.1.total_cmp(&y.1));
        if let Some((kind, ratio)) = worst {
            let _ = writeln!(
                doc,
                "| no query type > {TYPE_VS_A}× a Service A lookup (server CPU/query), {} Services | worst: {kind} at **{ratio:.2}×** ({:.2} µs for A) | {} |",
                size_name(size),
                a.server_cpu_us_per_query,
                verdict(ratio <= TYPE_VS_A)
            );
        }
    }
    for p in &d.props {
        let complete = p.timeouts == 0;
        let _ = writeln!(
            doc,
            "| answer changes ≤ {PROPAGATION_P99_MS} ms (p99) after the EndpointSlice write, {} Services | p99 {:.2} ms (p50 {:.2}, max {:.2}); {} of {} flips seen | {} |",
            size_name(p.services),
            p.delay.p99_ms,
            p.delay.p50_ms,
            p.delay.max_ms,
            p.flips - p.timeouts,
            p.flips,
            verdict(complete && p.delay.p99_ms <= PROPAGATION_P99_MS)
        );
    }
    // The memory target's own shape (`dns_rss` in bench/dns.sh) when it was measured, else
    // the largest benchmark size.
    if let Some((services, pods, mb)) = memory_shape(d) {
        memory_row(doc, services, pods, mb);
    }
    if let Some(&largest) = d.sizes.last()
        && let Some(r) = d
            .rss
            .iter()
            .filter(|r| r.label.starts_with(&format!("dns {largest} ")))
            .max_by_key(|r| r.rss_kib)
    {
        let mb = kib_to_mb(r.rss_kib);
        if memory_shape(d).is_none() {
            memory_row(doc, largest, model::generate(largest).pods() as u64, mb);
        }
        if let Some(k) = d.rounds(largest, ANCHOR).last() {
            let kmb = kib_to_mb(k.rss_kib);
            let _ = writeln!(
                doc,
                "| `svcplane dns` RSS below Knot's, {} Services | {mb:.1} MB vs {kmb:.1} MB | {} |",
                size_name(largest),
                verdict(mb < kmb)
            );
        }
    }
    doc.push('\n');
}

fn gate_table(doc: &mut String, d: &Data) {
    if d.checks.is_empty() {
        return;
    }
    doc.push_str(
        "### Correctness gate\n\nMismatches against the model's answers, of the queries asked \
         (rcode, answer count, answer data).\n\n| Services | server | a | headless | srv | nxdomain | ptr | first mismatch |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for &size in &d.sizes {
        let mut servers: Vec<&str> = Vec::new();
        for c in d.checks.iter().filter(|c| c.services == size) {
            if !servers.contains(&c.server.as_str()) {
                servers.push(&c.server);
            }
        }
        for server in servers {
            let rows: Vec<_> = d
                .checks
                .iter()
                .filter(|c| c.services == size && c.server == server)
                .collect();
            let cell = |kind: &str| {
                rows.iter()
                    .find(|c| c.kind == kind)
                    .map_or("–".into(), |c| format!("{}/{}", c.mismatches, c.checked))
            };
            let example = rows
                .iter()
                .find_map(|c| c.example.as_deref())
                .map_or(String::new(), |e| format!("`{}`", e.replace('|', "\\|")));
            let _ = writeln!(
                doc,
                "| {size} | {server} | {} | {} | {} | {} | {} | {example} |",
                cell("a"),
                cell("headless"),
                cell("srv"),
                cell("nxdomain"),
                cell("ptr")
            );
        }
    }
    doc.push('\n');
}

fn range(values: &[f64], digits: usize) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(0.0, f64::max);
    format!("{min:.digits$}–{max:.digits$}")
}

fn results_tables(doc: &mut String, d: &Data) {
    for &size in &d.sizes {
        let (kq, kc) = (
            d.mean_of(size, ANCHOR, |p| p.qps),
            d.mean_of(size, ANCHOR, |p| p.server_cpu_us_per_query),
        );
        let _ = write!(
            doc,
            "### {} Services\n\nMeans over the rounds (range in brackets). ÷ Knot compares with \
             Knot's means in this run. Rows marked ✗ failed the correctness gate: they answer \
             less, so their numbers do not count.\n\n\
             | server | gate | qps | ÷ Knot | mean latency ms | p50 / p99 ms (-v run) | server CPU µs/query | ÷ Knot | server cores | dnsperf cores | other cores | lost | RSS MB |\n\
             | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            size_name(size)
        );
        for server in d.servers(size) {
            let rounds = d.rounds(size, &server);
            let qps: Vec<f64> = rounds.iter().map(|p| p.qps).collect();
            let cpu: Vec<f64> = rounds.iter().map(|p| p.server_cpu_us_per_query).collect();
            let m = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
            let (mq, mc) = (m(&qps), m(&cpu));
            let lat = d
                .perf
                .iter()
                .find(|p| p.services == size && p.server == server && p.label == "latency")
                .and_then(|p| p.latency)
                .map_or("–".into(), |l| {
                    format!("{:.2} / {:.2}", l.p50_ms, l.p99_ms)
                });
            let gate = match d.gate(size, &server) {
                None => "not checked".into(),
                Some((0, n)) => format!("✓ {n}"),
                Some((bad, n)) => format!("✗ {bad} of {n}"),
            };
            let ratio = |v: f64, anchor: Option<f64>| {
                anchor.map_or("–".into(), |a| format!("{:.2}×", v / a))
            };
            let _ = writeln!(
                doc,
                "| {server} | {gate} | {mq:.0} ({}) | {} | {:.3} | {lat} | {mc:.2} ({}) | {} | {:.2} | {:.2} | {:.2} | {} | {:.1} |",
                range(&qps, 0),
                ratio(mq, kq),
                mean(rounds.iter().map(|p| p.mean_latency_ms)).unwrap_or(0.0),
                range(&cpu, 2),
                ratio(mc, kc),
                mean(rounds.iter().map(|p| p.server_cores)).unwrap_or(0.0),
                mean(rounds.iter().map(|p| p.client_cores)).unwrap_or(0.0),
                mean(rounds.iter().map(|p| p.other_cores)).unwrap_or(0.0),
                rounds.iter().map(|p| p.lost).sum::<u64>(),
                rounds.last().map_or(0.0, |p| kib_to_mb(p.rss_kib)),
            );
        }
        doc.push('\n');
    }
}

fn per_type_table(doc: &mut String, d: &Data) {
    let rows: Vec<_> = d.perf.iter().filter(|p| p.label == "per type").collect();
    if rows.is_empty() {
        return;
    }
    doc.push_str(
        "### Per query type\n\nOne type per query file, one run each. *÷ A* is the type's \
         server CPU per query over the Service A lookup's, same server and size.\n\n\
         | Services | type | svcplane qps | svcplane CPU µs/query | ÷ A | Knot qps | Knot CPU µs/query | ÷ A | svcplane ÷ Knot (CPU) |\n\
         | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for &size in &d.sizes {
        for kind in ["a", "headless", "srv", "nxdomain", "ptr"] {
            let (s, k) = (
                d.per_type(size, "svcplane", kind),
                d.per_type(size, ANCHOR, kind),
            );
            let cell = |p: Option<&DnsPerfResult>, server: &str| match p {
                Some(p) => {
                    let base = d
                        .per_type(size, server, "a")
                        .map(|a| a.server_cpu_us_per_query);
                    format!(
                        "{:.0} | {:.2} | {}",
                        p.qps,
                        p.server_cpu_us_per_query,
                        base.map_or("–".into(), |b| format!(
                            "{:.2}×",
                            p.server_cpu_us_per_query / b
                        ))
                    )
                }
                None => "– | – | –".into(),
            };
            let vs = match (s, k) {
                (Some(s), Some(k)) => format!(
                    "{:.2}×",
                    s.server_cpu_us_per_query / k.server_cpu_us_per_query
                ),
                _ => "–".into(),
            };
            let _ = writeln!(
                doc,
                "| {size} | {kind} | {} | {} | {vs} |",
                cell(s, "svcplane"),
                cell(k, ANCHOR)
            );
        }
    }
    doc.push('\n');
}

fn propagation_and_memory(doc: &mut String, d: &Data) {
    if !d.props.is_empty() {
        doc.push_str(
            "### Propagation\n\n| Services | flips | write → answer p50 / p99 / max ms | the write itself p50 / p99 ms | not seen within 5 s |\n| ---: | ---: | --- | --- | ---: |\n",
        );
        for p in &d.props {
            let _ = writeln!(
                doc,
                "| {} | {} | {:.2} / {:.2} / {:.2} | {:.2} / {:.2} | {} |",
                p.services,
                p.flips,
                p.delay.p50_ms,
                p.delay.p99_ms,
                p.delay.max_ms,
                p.write_latency.p50_ms,
                p.write_latency.p99_ms,
                p.timeouts
            );
        }
        doc.push('\n');
    }
    if !d.rss.is_empty() {
        doc.push_str(
            "### `svcplane dns` memory\n\n| when | RSS MB | peak RSS MB |\n| --- | ---: | ---: |\n",
        );
        for r in &d.rss {
            let _ = writeln!(
                doc,
                "| {} | {:.1} | {:.1} |",
                r.label,
                kib_to_mb(r.rss_kib),
                kib_to_mb(r.hwm_kib)
            );
        }
        doc.push('\n');
    }
}

fn reading(doc: &mut String, d: &Data) {
    doc.push_str("### DNS reading\n\n");
    for &size in &d.sizes {
        let by_cpu: Vec<(String, f64, f64)> = {
            let mut v: Vec<_> = d
                .servers(size)
                .into_iter()
                .filter_map(|s| {
                    Some((
                        s.clone(),
                        d.mean_of(size, &s, |p| p.server_cpu_us_per_query)?,
                        d.mean_of(size, &s, |p| p.qps)?,
                    ))
                })
                .collect();
            v.sort_by(|a, b| a.1.total_cmp(&b.1));
            v
        };
        let order: Vec<String> = by_cpu
            .iter()
            .map(|(s, c, q)| {
                let mark = if s == "responder" || d.passes(size, s) {
                    ""
                } else {
                    " ✗gate"
                };
                format!("{s} {c:.2} µs ({q:.0} qps){mark}")
            })
            .collect();
        let _ = writeln!(
            doc,
            "- **{} Services**, by server CPU per query: {}.",
            size_name(size),
            order.join(", ")
        );
        if let (Some(client), Some(other)) = (
            mean(
                d.perf
                    .iter()
                    .filter(|p| {
                        p.services == size && p.label.starts_with("round") && p.server == ANCHOR
                    })
                    .map(|p| p.client_cores),
            ),
            mean(
                d.perf
                    .iter()
                    .filter(|p| p.services == size && p.label.starts_with("round"))
                    .map(|p| p.other_cores),
            ),
        ) {
            let _ = writeln!(
                doc,
                "  dnsperf used {client:.2} of its core during Knot's rounds{}; everything else \
                 on the machine took {other:.2} cores on average{}.",
                if client > 0.9 {
                    " — it is the limit for the fastest servers, so compare CPU/query rather than qps"
                } else {
                    ""
                },
                if other > 0.3 {
                    ", so the numbers are from a busy machine"
                } else {
                    ""
                }
            );
        }
    }
    let failing: Vec<String> = d
        .checks
        .iter()
        .filter(|c| c.mismatches > 0)
        .map(|c| {
            format!(
                "{} at {} ({}: {}/{})",
                c.server, c.services, c.kind, c.mismatches, c.checked
            )
        })
        .collect();
    if failing.is_empty() {
        doc.push_str("- Every checked server gave the model's answers for every sampled query.\n");
    } else {
        let _ = writeln!(doc, "- Gate mismatches: {}.", failing.join("; "));
    }
    doc.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Percentiles;

    fn perf(server: &str, qps: f64, cpu: f64) -> Record {
        Record::DnsPerf(crate::results::dns_perf_fixture(
            "round 1", server, qps, cpu,
        ))
    }

    #[test]
    fn targets_against_knot_and_the_gate() {
        let check = |server: &str, mismatches| {
            Record::DnsCheck(DnsCheckResult {
                label: String::new(),
                services: 1000,
                server: server.into(),
                kind: "a".into(),
                checked: 200,
                mismatches,
                example: (mismatches > 0).then(|| "x A: rcode NXDOMAIN".into()),
            })
        };
        let records = vec![
            perf("svcplane", 96_000.0, 6.0),
            perf("knot", 100_000.0, 5.0),
            check("svcplane", 0),
            check("knot", 0),
            Record::DnsPropagation(DnsPropagationResult {
                services: 1000,
                flips: 200,
                timeouts: 0,
                delay: Percentiles {
                    p50_ms: 1.0,
                    p99_ms: 3.0,
                    max_ms: 4.0,
                },
                write_latency: Percentiles::default(),
            }),
        ];
        let mut doc = String::new();
        render(&mut doc, &records, "Knot DNS 3.2.6", None);
        assert!(
            doc.contains("| 6.00 µs vs 5.00 µs: **1.20×** | **misses** |"),
            "{doc}"
        );
        assert!(
            doc.contains("| 96000 vs 100000: **0.96×** | **meets** |"),
            "{doc}"
        );
        assert!(
            doc.contains("p99 3.00 ms (p50 1.00, max 4.00); 200 of 200 flips seen | **meets**")
        );
        assert!(doc.contains("| 1000 | svcplane | 0/200 |"));

        // A svcplane that answers wrongly cannot meet a target against Knot.
        let mut bad = records.clone();
        bad[2] = check("svcplane", 3);
        let mut doc = String::new();
        render(&mut doc, &bad, "", None);
        assert!(
            doc.contains("(svcplane fails the gate) | **misses** |"),
            "{doc}"
        );
    }
}
