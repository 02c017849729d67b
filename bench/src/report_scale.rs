//! The scale part of docs/benchmarks.md: building a generated cluster through the API with the
//! controllers and the node agent, the server's RSS at that size, and readiness flips (issue 3's
//! targets: flip → EndpointSlice p99 ≤ 20 ms, whole-process RSS ≤ 1 GiB).

use std::fmt::Write as _;

use crate::report::verdict;
use crate::results::Record;
use crate::scale::ScaleResult;
use crate::stats::kib_to_mb;

const FLIP_P99_TARGET_MS: f64 = 20.0;
const RSS_TARGET_MB: f64 = 1024.0;

pub fn render(doc: &mut String, records: &[Record]) {
    let runs: Vec<&ScaleResult> = records
        .iter()
        .filter_map(|r| match r {
            Record::Scale(s) => Some(s),
            _ => None,
        })
        .collect();
    let Some(&largest) = runs.iter().max_by_key(|r| r.pods) else {
        return;
    };
    let _ = write!(
        doc,
        "## Controllers at scale\n\n### Method\n\n\
         - **Cluster** (`apibench scale`, generator in bench/src/scale/workload.rs): N Services \
         in N/100 namespaces, 70% ClusterIP with a named target port, 30% headless with 3–20 \
         pods (every third backed by a StatefulSet with hostnames, the others by Deployments), \
         one in 50 an ExternalName; the pods are spread over the Services. It is built the way a \
         user would: Namespaces, Services, Deployments and StatefulSets POSTed over one HTTP/2 \
         connection (64 in flight) to `svcplane server --nodes K` on its embedded store, with \
         the controllers and the node agent inside (pod start delay 200 ms). Built means every \
         pod is a ready endpoint of an EndpointSlice, as seen on a watch of all slices.\n\
         - **RSS**: VmRSS/VmHWM of the server process (API server, store, controllers, agent \
         and DNS together) once built.\n\
         - **Flips**: pods spread over the slices are made unready and ready again through the \
         agent's `svcplane.dev/ready` annotation, one at a time; per flip, the delay from the \
         pod's Ready condition changing (as seen on a watch of all pods) to its endpoint's \
         `ready` changing (on the slice watch), and from the annotation write to the slice.\n\n"
    );
    let _ = writeln!(
        doc,
        "### Targets\n\n| target | measured | verdict |\n|---|---|---|"
    );
    let p99 = largest.ready_to_slice.p99_ms;
    // The targets are set for 10k Services / 100k pods / 1,000 nodes; a smaller run is
    // reported, not judged.
    let full = largest.services >= 10_000 && largest.pods >= 100_000 && largest.nodes >= 1_000;
    let judge = |ok: bool| {
        if full {
            verdict(ok)
        } else {
            "– (smaller than the target's cluster: no verdict)"
        }
    };
    let _ = writeln!(
        doc,
        "| pod Ready → EndpointSlice p99 ≤ {FLIP_P99_TARGET_MS} ms ({} Services, {} pods, {} nodes) | {p99:.2} ms over {} flips ({} timed out) | {} |",
        largest.services,
        largest.pods,
        largest.nodes,
        largest.flips,
        largest.timeouts,
        judge(p99 <= FLIP_P99_TARGET_MS && largest.timeouts == 0),
    );
    if let Some(rss) = largest.rss_kib {
        let mb = kib_to_mb(rss);
        let _ = writeln!(
            doc,
            "| whole-process RSS ≤ 1 GiB at that size | {mb:.0} MB | {} |",
            judge(mb <= RSS_TARGET_MB)
        );
    }
    let _ = writeln!(
        doc,
        "\n### Results\n\n| Services | pods | nodes | Deployments | StatefulSets | submit s | \
         built s | server CPU s | RSS MB | peak RSS MB | flips | Ready → slice p50 / p99 / max \
         ms | write → slice p50 / p99 / max ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let opt = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
    for r in &runs {
        let _ = writeln!(
            doc,
            "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {} | {} | {} | {} | {:.2} / {:.2} / {:.2} | {:.2} / {:.2} / {:.2} |",
            r.services,
            r.pods,
            r.nodes,
            r.deployments,
            r.statefulsets,
            r.submit_s,
            r.build_s,
            opt(r.build_cpu_s),
            opt(r.rss_kib.map(kib_to_mb)),
            opt(r.hwm_kib.map(kib_to_mb)),
            r.flips,
            r.ready_to_slice.p50_ms,
            r.ready_to_slice.p99_ms,
            r.ready_to_slice.max_ms,
            r.write_to_slice.p50_ms,
            r.write_to_slice.p99_ms,
            r.write_to_slice.max_ms,
        );
    }
    let _ = writeln!(
        doc,
        "\nBuilding {} pods took {:.0} s ({:.0} pods/s){}.\n",
        largest.pods,
        largest.build_s,
        largest.pods as f64 / largest.build_s.max(f64::EPSILON),
        largest.build_cpu_s.map_or(String::new(), |cpu| format!(
            ", {:.2} ms of server CPU per pod",
            cpu * 1000.0 / largest.pods.max(1) as f64
        )),
    );
}
