//! The DNS plot: mean qps and server CPU per query per server and size, drawn by gnuplot when
//! it is installed (bench/run.sh installs gnuplot-nox); without it the page simply has no plot.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::results::DnsPerfResult;

pub const FILE: &str = "benchmarks-dns.png";

/// Writes `dir/FILE` and returns its name, or None if gnuplot is missing or fails.
pub fn plot(perf: &[&DnsPerfResult], sizes: &[usize], dir: &Path) -> Option<String> {
    let mut servers: Vec<&str> = Vec::new();
    for p in perf.iter().filter(|p| p.label.starts_with("round")) {
        if !servers.contains(&p.server.as_str()) {
            servers.push(&p.server);
        }
    }
    let mean = |size: usize, server: &str, f: fn(&DnsPerfResult) -> f64| {
        let v: Vec<f64> = perf
            .iter()
            .filter(|p| p.services == size && p.server == server && p.label.starts_with("round"))
            .map(|p| f(p))
            .collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    // Rows: server, then qps and CPU/query per size.
    let mut data = String::new();
    for s in &servers {
        let _ = write!(data, "\"{s}\"");
        for &size in sizes {
            let _ = write!(
                data,
                " {:.0} {:.3}",
                mean(size, s, |p| p.qps),
                mean(size, s, |p| p.server_cpu_us_per_query)
            );
        }
        data.push('\n');
    }
    let tmp = std::env::temp_dir().join(format!("apibench-plot-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).ok()?;
    let data_path = tmp.join("dns.dat");
    std::fs::write(&data_path, data).ok()?;
    let out = dir.join(FILE);
    let cols = |offset: usize| {
        sizes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "'{}' using {}:xtic(1) title '{} Services'",
                    data_path.display(),
                    2 + 2 * i + offset,
                    s
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let script = format!(
        "set terminal pngcairo size 1000,420 font ',10'\nset output '{}'\nset style data histograms\n\
         set style histogram clustered gap 1\nset style fill solid 0.8 border -1\nset grid ytics\n\
         set key top left\nset multiplot layout 1,2\nset title 'qps (dnsperf on its own core)'\nset yrange [0:*]\n\
         plot {}\nset title 'server CPU µs per query (lower is better, log scale)'\nset logscale y\nset yrange [1:*]\nplot {}\nunset multiplot\n",
        out.display(),
        cols(0),
        cols(1)
    );
    let script_path = tmp.join("dns.gp");
    std::fs::write(&script_path, script).ok()?;
    let ok = match Command::new("gnuplot").arg(&script_path).output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!("gnuplot failed: {}", String::from_utf8_lossy(&o.stderr));
            false
        }
        Err(e) => {
            eprintln!("no plot: gnuplot: {e}");
            false
        }
    };
    let _ = std::fs::remove_dir_all(&tmp);
    ok.then(|| FILE.to_string())
}
