//! Golden tests for answer building: the fixture cluster in, zone-file text out, one named case
//! per row of dns-spec.md §1–§4 and §8.

use hickory_proto::rr::{DNSClass, RecordType};

use super::answer;
use crate::config::{Config, Fallthrough, PodsMode};
use crate::fixtures::{self, SERIAL};
use crate::record::{Next, Rcode};
use crate::zone::ZoneView;

use RecordType::*;

/// Expands placeholders and shorthands, then sorts each section like `Answer::to_zone_text`.
fn canon(want: &str) -> String {
    let soa =
        |z: &str| format!("{z}. 5 IN SOA ns.dns.{z}. hostmaster.{z}. {SERIAL} 7200 1800 86400 5");
    let want = match want.trim() {
        "NXDOMAIN" => ";NXDOMAIN aa\n;authority\n{SOA}".to_string(),
        "NODATA" => ";NOERROR aa\n;authority\n{SOA}".to_string(),
        "RNXDOMAIN" => ";NXDOMAIN aa\n;authority\n{RSOA}".to_string(),
        "RNODATA" => ";NOERROR aa\n;authority\n{RSOA}".to_string(),
        other => other.to_string(),
    };
    let want = want
        .replace("{SOA}", &soa("cluster.local"))
        .replace("{RSOA}", &soa("in-addr.arpa"))
        .replace("{R6SOA}", &soa("ip6.arpa"));
    let mut out = String::new();
    let mut section: Vec<String> = Vec::new();
    let flush = |out: &mut String, section: &mut Vec<String>| {
        section.sort();
        for l in section.drain(..) {
            out.push_str(&l);
            out.push('\n');
        }
    };
    for line in want.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with(';') {
            flush(&mut out, &mut section);
            out.push_str(line);
            out.push('\n');
        } else {
            section.push(line.to_string());
        }
    }
    flush(&mut out, &mut section);
    out
}

fn run(view: &ZoneView, cases: &[(&str, &str, RecordType, &str)]) {
    let mut failures = Vec::new();
    for (name, qname, qtype, want) in cases {
        let got = answer(view, qname, *qtype, DNSClass::IN).to_zone_text();
        let want = canon(want);
        if got != want {
            failures.push(format!(
                "case {name}: {qname} {qtype}\n--- want\n{want}--- got\n{got}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn default_view() -> ZoneView {
    fixtures::view(&Config::default())
}

#[test]
fn golden_default_config() {
    let cases: &[(&str, &str, RecordType, &str)] = &[
        // 2.2 dns-version
        ("dns-version TXT", "dns-version.cluster.local.", TXT, r#";NOERROR aa
            ;answer
            dns-version.cluster.local. 28800 IN TXT "1.1.0""#),
        ("dns-version A is NODATA (RFC 2308, §8)", "dns-version.cluster.local.", A, "NODATA"),
        // 2.3.1 / 3.2 ClusterIP A/AAAA
        ("clusterip A", "web.demo.svc.cluster.local.", A, ";NOERROR aa
            ;answer
            web.demo.svc.cluster.local. 5 IN A 10.96.1.10"),
        ("clusterip AAAA on v4-only is NODATA", "web.demo.svc.cluster.local.", AAAA, "NODATA"),
        ("clusterip without endpoints still answers", "plain.demo.svc.cluster.local", A, ";NOERROR aa
            ;answer
            plain.demo.svc.cluster.local. 5 IN A 10.96.1.11"),
        ("dual-stack A", "dual.demo.svc.cluster.local.", A, ";NOERROR aa
            ;answer
            dual.demo.svc.cluster.local. 5 IN A 10.96.1.12"),
        ("dual-stack AAAA", "dual.demo.svc.cluster.local.", AAAA, ";NOERROR aa
            ;answer
            dual.demo.svc.cluster.local. 5 IN AAAA fd00:10:96::c"),
        ("service TXT is NODATA", "web.demo.svc.cluster.local.", TXT, "NODATA"),
        ("service MX is NODATA", "web.demo.svc.cluster.local.", MX, "NODATA"),
        ("service ANY is NODATA, not expanded", "web.demo.svc.cluster.local.", ANY, "NODATA"),
        ("service HINFO is NODATA", "web.demo.svc.cluster.local.", HINFO, "NODATA"),
        ("service CNAME is NODATA", "web.demo.svc.cluster.local.", CNAME, "NODATA"),
        ("service PTR is NODATA", "web.demo.svc.cluster.local.", PTR, "NODATA"),
        ("service SOA below apex is NODATA", "web.demo.svc.cluster.local.", SOA, "NODATA"),
        ("service NS below apex is NODATA", "web.demo.svc.cluster.local.", NS, "NODATA"),
        ("missing SOA below apex is NXDOMAIN (§8)", "nope.demo.svc.cluster.local.", SOA, "NXDOMAIN"),
        ("missing NS below apex is NXDOMAIN", "nope.demo.svc.cluster.local.", NS, "NXDOMAIN"),
        ("missing service", "nope.demo.svc.cluster.local.", A, "NXDOMAIN"),
        // 2.3.2 / 3.3 ClusterIP SRV
        ("clusterip SRV named port", "_http._tcp.web.demo.svc.cluster.local.", SRV, ";NOERROR aa
            ;answer
            _http._tcp.web.demo.svc.cluster.local. 5 IN SRV 0 100 80 web.demo.svc.cluster.local.
            ;additional
            web.demo.svc.cluster.local. 5 IN A 10.96.1.10"),
        ("clusterip SRV port/proto case-insensitive", "_HTTPS._Tcp.web.demo.svc.cluster.local.", SRV, ";NOERROR aa
            ;answer
            _HTTPS._Tcp.web.demo.svc.cluster.local. 5 IN SRV 0 100 443 web.demo.svc.cluster.local.
            ;additional
            web.demo.svc.cluster.local. 5 IN A 10.96.1.10"),
        ("clusterip SRV wrong proto", "_http._udp.web.demo.svc.cluster.local.", SRV, "NXDOMAIN"),
        ("clusterip SRV no such port", "_nope._tcp.web.demo.svc.cluster.local.", SRV, "NXDOMAIN"),
        ("clusterip SRV name, A query is NODATA", "_http._tcp.web.demo.svc.cluster.local.", A, "NODATA"),
        ("unnamed port has no _port._proto SRV", "_http._tcp.plain.demo.svc.cluster.local.", SRV, "NXDOMAIN"),
        ("dual-stack SRV weight 50 collapsed", "_http._tcp.dual.demo.svc.cluster.local.", SRV, ";NOERROR aa
            ;answer
            _http._tcp.dual.demo.svc.cluster.local. 5 IN SRV 0 50 80 dual.demo.svc.cluster.local.
            ;additional
            dual.demo.svc.cluster.local. 5 IN A 10.96.1.12
            dual.demo.svc.cluster.local. 5 IN AAAA fd00:10:96::c"),
        ("udp SRV", "_dns._udp.kube-dns.kube-system.svc.cluster.local.", SRV, ";NOERROR aa
            ;answer
            _dns._udp.kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.
            ;additional
            kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.10"),
        // 3.3 bare-name SRV extension
        ("bare SRV lists every port", "web.demo.svc.cluster.local.", SRV, ";NOERROR aa
            ;answer
            web.demo.svc.cluster.local. 5 IN SRV 0 50 80 web.demo.svc.cluster.local.
            web.demo.svc.cluster.local. 5 IN SRV 0 50 443 web.demo.svc.cluster.local.
            ;additional
            web.demo.svc.cluster.local. 5 IN A 10.96.1.10"),
        ("bare SRV includes unnamed ports", "plain.demo.svc.cluster.local.", SRV, ";NOERROR aa
            ;answer
            plain.demo.svc.cluster.local. 5 IN SRV 0 100 8080 plain.demo.svc.cluster.local.
            ;additional
            plain.demo.svc.cluster.local. 5 IN A 10.96.1.11"),
        ("bare SRV weight counts before dedup", "kube-dns.kube-system.svc.cluster.local.", SRV, ";NOERROR aa
            ;answer
            kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 33 53 kube-dns.kube-system.svc.cluster.local.
            kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 33 9153 kube-dns.kube-system.svc.cluster.local.
            ;additional
            kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.10"),
        // 2.3.3 / 3.7 PTR
        ("clusterip PTR", "10.1.96.10.in-addr.arpa.", PTR, ";NOERROR aa
            ;answer
            10.1.96.10.in-addr.arpa. 5 IN PTR web.demo.svc.cluster.local."),
        ("clusterip v6 PTR", "c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.", PTR, ";NOERROR aa
            ;answer
            c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa. 5 IN PTR dual.demo.svc.cluster.local."),
        ("PTR miss", "99.99.96.10.in-addr.arpa.", PTR, "RNXDOMAIN"),
        ("v6 PTR miss", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.", PTR, ";NXDOMAIN aa
            ;authority
            {R6SOA}"),
        ("reverse name, A query", "10.1.96.10.in-addr.arpa.", A, "RNODATA"),
        ("partial reverse name", "96.10.in-addr.arpa.", PTR, "RNXDOMAIN"),
        ("reverse zone apex SOA", "in-addr.arpa.", SOA, ";NOERROR aa
            ;answer
            {RSOA}"),
        ("reverse-looking name under forward zone", "10.1.96.10.in-addr.arpa.cluster.local.", PTR, "NXDOMAIN"),
        // 2.4.1 / 3.4 headless A/AAAA
        ("headless A: ready only, deduplicated", "nginx.demo.svc.cluster.local.", A, ";NOERROR aa
            ;answer
            nginx.demo.svc.cluster.local. 5 IN A 10.244.1.20
            nginx.demo.svc.cluster.local. 5 IN A 10.244.2.21"),
        ("headless AAAA with v4 endpoints is NODATA", "nginx.demo.svc.cluster.local.", AAAA, "NODATA"),
        ("headless A from v4 slice", "my-nginx-headless-svc.default.svc.cluster.local.", A, ";NOERROR aa
            ;answer
            my-nginx-headless-svc.default.svc.cluster.local. 5 IN A 10.244.36.116"),
        ("headless AAAA from v6 slice", "my-nginx-headless-svc.default.svc.cluster.local.", AAAA, ";NOERROR aa
            ;answer
            my-nginx-headless-svc.default.svc.cluster.local. 5 IN AAAA fd00:10:244:2::72"),
        ("headless zero ready: A", "unready.demo.svc.cluster.local.", A, "NXDOMAIN"),
        ("headless zero ready: TXT", "unready.demo.svc.cluster.local.", TXT, "NXDOMAIN"),
        ("headless zero ready: SRV", "unready.demo.svc.cluster.local.", SRV, "NXDOMAIN"),
        ("headless zero ready: _port._proto", "_web._tcp.unready.demo.svc.cluster.local.", SRV, "NXDOMAIN"),
        ("headless other type is NODATA", "nginx.demo.svc.cluster.local.", MX, "NODATA"),
        // 2.4.1 / 3.5 endpoint names
        ("hostname endpoint A", "web-0.nginx.demo.svc.cluster.local.", A, ";NOERROR aa
            ;answer
            web-0.nginx.demo.svc.cluster.local. 5 IN A 10.244.1.20"),
        ("hostname endpoint AAAA is NODATA", "web-0.nginx.demo.svc.cluster.local.", AAAA, "NODATA"),
        ("hostname endpoint TXT is NODATA", "web-0.nginx.demo.svc.cluster.local.", TXT, "NODATA"),
        ("unready endpoint", "web-2.nginx.demo.svc.cluster.local.", A, "NXDOMAIN"),
        ("hostname wins over dashed IP", "10-244-1-20.nginx.demo.svc.cluster.local.", A, "NXDOMAIN"),
        ("dashed v4 endpoint", "10-244-36-116.my-nginx-headless-svc.default.svc.cluster.local.", A, ";NOERROR aa
            ;answer
            10-244-36-116.my-nginx-headless-svc.default.svc.cluster.local. 5 IN A 10.244.36.116"),
        ("dashed v6 endpoint", "fd00-10-244-2--72.my-nginx-headless-svc.default.svc.cluster.local.", AAAA, ";NOERROR aa
            ;answer
            fd00-10-244-2--72.my-nginx-headless-svc.default.svc.cluster.local. 5 IN AAAA fd00:10:244:2::72"),
        ("endpoint under ClusterIP service (extension)", "10-244-1-10.web.demo.svc.cluster.local.", A, ";NOERROR aa
            ;answer
            10-244-1-10.web.demo.svc.cluster.local. 5 IN A 10.244.1.10"),
        ("ready=nil endpoint counts as ready", "10-244-1-11.web.demo.svc.cluster.local.", A, ";NOERROR aa
            ;answer
            10-244-1-11.web.demo.svc.cluster.local. 5 IN A 10.244.1.11"),
        ("_x.<svc> is an endpoint named _x", "_x.nginx.demo.svc.cluster.local.", A, "NXDOMAIN"),
        ("_x.<svc> SRV too", "_x.nginx.demo.svc.cluster.local.", SRV, "NXDOMAIN"),
        ("missing endpoint", "web-9.nginx.demo.svc.cluster.local.", A, "NXDOMAIN"),
        ("wildcards are literal (removed in 1.9)", "*.nginx.demo.svc.cluster.local.", A, "NXDOMAIN"),
        // 2.4.2 / 3.6 headless SRV
        ("headless SRV: endpoint port, one per endpoint", "_web._tcp.nginx.demo.svc.cluster.local.", SRV, ";NOERROR aa
            ;answer
            _web._tcp.nginx.demo.svc.cluster.local. 5 IN SRV 0 50 8080 web-0.nginx.demo.svc.cluster.local.
            _web._tcp.nginx.demo.svc.cluster.local. 5 IN SRV 0 50 8080 web-1.nginx.demo.svc.cluster.local.
            ;additional
            web-0.nginx.demo.svc.cluster.local. 5 IN A 10.244.1.20
            web-1.nginx.demo.svc.cluster.local. 5 IN A 10.244.2.21"),
        ("headless bare SRV", "nginx.demo.svc.cluster.local.", SRV, ";NOERROR aa
            ;answer
            nginx.demo.svc.cluster.local. 5 IN SRV 0 50 8080 web-0.nginx.demo.svc.cluster.local.
            nginx.demo.svc.cluster.local. 5 IN SRV 0 50 8080 web-1.nginx.demo.svc.cluster.local.
            ;additional
            web-0.nginx.demo.svc.cluster.local. 5 IN A 10.244.1.20
            web-1.nginx.demo.svc.cluster.local. 5 IN A 10.244.2.21"),
        ("headless SRV dual-stack endpoints", "_http._tcp.my-nginx-headless-svc.default.svc.cluster.local.", SRV, ";NOERROR aa
            ;answer
            _http._tcp.my-nginx-headless-svc.default.svc.cluster.local. 5 IN SRV 0 50 80 10-244-36-116.my-nginx-headless-svc.default.svc.cluster.local.
            _http._tcp.my-nginx-headless-svc.default.svc.cluster.local. 5 IN SRV 0 50 80 fd00-10-244-2--72.my-nginx-headless-svc.default.svc.cluster.local.
            ;additional
            10-244-36-116.my-nginx-headless-svc.default.svc.cluster.local. 5 IN A 10.244.36.116
            fd00-10-244-2--72.my-nginx-headless-svc.default.svc.cluster.local. 5 IN AAAA fd00:10:244:2::72"),
        ("headless SRV no such port", "_http._tcp.nginx.demo.svc.cluster.local.", SRV, "NXDOMAIN"),
        ("portless headless SRV is NODATA", "portless.demo.svc.cluster.local.", SRV, "NODATA"),
        ("portless headless A", "portless.demo.svc.cluster.local.", A, ";NOERROR aa
            ;answer
            portless.demo.svc.cluster.local. 5 IN A 10.244.3.30"),
        ("portless headless _port._proto", "_http._tcp.portless.demo.svc.cluster.local.", SRV, "NXDOMAIN"),
        // 2.4.3 / 3.7 endpoint PTR
        ("endpoint PTR for every selecting service", "20.1.244.10.in-addr.arpa.", PTR, ";NOERROR aa
            ;answer
            20.1.244.10.in-addr.arpa. 5 IN PTR web-0.nginx.demo.svc.cluster.local.
            20.1.244.10.in-addr.arpa. 5 IN PTR 10-244-1-20.nginx-lb.demo.svc.cluster.local."),
        ("unready endpoint has no PTR", "22.2.244.10.in-addr.arpa.", PTR, "RNXDOMAIN"),
        ("dashed v6 endpoint PTR", "2.7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa.", PTR, ";NOERROR aa
            ;answer
            2.7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa. 5 IN PTR fd00-10-244-2--72.my-nginx-headless-svc.default.svc.cluster.local."),
        // 2.5 / 3.8 ExternalName
        ("ExternalName in zone: CNAME chased locally", "alias.demo.svc.cluster.local.", A, ";NOERROR aa
            ;answer
            alias.demo.svc.cluster.local. 5 IN CNAME web.demo.svc.cluster.local.
            web.demo.svc.cluster.local. 5 IN A 10.96.1.10"),
        ("ExternalName out of zone: CNAME only here", "ext.demo.svc.cluster.local.", A, ";NOERROR aa
            ;answer
            ext.demo.svc.cluster.local. 5 IN CNAME example.com."),
        ("ExternalName CNAME query", "ext.demo.svc.cluster.local.", CNAME, ";NOERROR aa
            ;answer
            ext.demo.svc.cluster.local. 5 IN CNAME example.com."),
        ("ExternalName TXT follows CNAME", "ext.demo.svc.cluster.local.", TXT, ";NOERROR aa
            ;answer
            ext.demo.svc.cluster.local. 5 IN CNAME example.com."),
        ("ExternalName SRV is NODATA", "ext.demo.svc.cluster.local.", SRV, "NODATA"),
        ("ExternalName MX is NODATA", "ext.demo.svc.cluster.local.", MX, "NODATA"),
        ("ExternalName _p._q is NXDOMAIN", "_http._tcp.ext.demo.svc.cluster.local.", SRV, "NXDOMAIN"),
        ("ExternalName x.ext is NXDOMAIN", "x.ext.demo.svc.cluster.local.", A, "NXDOMAIN"),
        ("ExternalName IP literal is ignored", "iplit.demo.svc.cluster.local.", A, "NXDOMAIN"),
        ("ExternalName to missing in-zone name: CNAME + NXDOMAIN (RFC 6604)", "dangling.demo.svc.cluster.local.", A, ";NXDOMAIN aa
            ;answer
            dangling.demo.svc.cluster.local. 5 IN CNAME missing.demo.svc.cluster.local.
            ;authority
            {SOA}"),
        // 3.9 pods, insecure (default)
        ("insecure pod A", "10-244-1-20.demo.pod.cluster.local.", A, ";NOERROR aa
            ;answer
            10-244-1-20.demo.pod.cluster.local. 5 IN A 10.244.1.20"),
        ("insecure pod: any IP is echoed", "1-2-3-4.demo.pod.cluster.local.", A, ";NOERROR aa
            ;answer
            1-2-3-4.demo.pod.cluster.local. 5 IN A 1.2.3.4"),
        ("insecure pod: namespace must exist", "1-2-3-4.nope.pod.cluster.local.", A, "NXDOMAIN"),
        ("insecure pod: v6 name, A query is NODATA", "fd00-10-244-2--72.demo.pod.cluster.local.", A, "NODATA"),
        ("insecure pod: v6 AAAA", "fd00-10-244-2--72.demo.pod.cluster.local.", AAAA, ";NOERROR aa
            ;answer
            fd00-10-244-2--72.demo.pod.cluster.local. 5 IN AAAA fd00:10:244:2::72"),
        ("pod label not an IP", "web-0.demo.pod.cluster.local.", A, "NXDOMAIN"),
        ("pod name too long", "x.1-2-3-4.demo.pod.cluster.local.", A, "NXDOMAIN"),
        ("<ns>.pod", "demo.pod.cluster.local.", A, "NODATA"),
        // 3.10 apex, SOA, NS
        ("apex SOA", "cluster.local.", SOA, ";NOERROR aa
            ;answer
            {SOA}"),
        ("apex NS without own IPs", "cluster.local.", NS, ";NOERROR aa
            ;answer
            cluster.local. 5 IN NS ns.dns.cluster.local."),
        ("apex A", "cluster.local.", A, "NODATA"),
        ("apex ANY", "cluster.local.", ANY, "NODATA"),
        ("apex TXT", "cluster.local.", TXT, "NODATA"),
        ("ns.dns A without own IPs", "ns.dns.cluster.local.", A, "NODATA"),
        // 4 NXDOMAIN vs NODATA
        ("svc empty non-terminal", "svc.cluster.local.", A, "NODATA"),
        ("pod empty non-terminal", "pod.cluster.local.", A, "NODATA"),
        ("existing namespace", "demo.svc.cluster.local.", A, "NODATA"),
        ("namespace without services", "quiet.svc.cluster.local.", A, "NODATA"),
        ("namespace without services, SRV", "quiet.svc.cluster.local.", SRV, "NODATA"),
        ("missing namespace", "nope.svc.cluster.local.", A, "NXDOMAIN"),
        ("service in missing namespace", "web.nope.svc.cluster.local.", A, "NXDOMAIN"),
        ("2nd label not svc/pod", "web.demo.xyz.cluster.local.", A, "NXDOMAIN"),
        ("one unknown label", "foo.cluster.local.", A, "NXDOMAIN"),
        ("too many labels", "a.b._http._tcp.web.demo.svc.cluster.local.", A, "NXDOMAIN"),
        ("search path: web.other.demo", "web.other.demo.svc.cluster.local.", A, "NXDOMAIN"),
        ("search path: example.com.svc", "example.com.svc.cluster.local.", A, "NXDOMAIN"),
        ("search path: example.com.svc AAAA", "example.com.svc.cluster.local.", AAAA, "NXDOMAIN"),
        ("search path: example.com.<zone>", "example.com.cluster.local.", A, "NXDOMAIN"),
        ("search path: doubled suffix", "web.demo.svc.cluster.local.demo.svc.cluster.local.", A, "NXDOMAIN"),
        ("search path: www.example.com.demo.svc", "www.example.com.demo.svc.cluster.local.", A, "NXDOMAIN"),
        // 2 case echo
        ("case echo A", "WeB.DeMo.SvC.ClUsTeR.LoCaL.", A, ";NOERROR aa
            ;answer
            WeB.DeMo.SvC.ClUsTeR.LoCaL. 5 IN A 10.96.1.10"),
        ("case echo SRV target keeps zone case", "_HtTp._TcP.WEB.demo.svc.ClUsTeR.LoCaL.", SRV, ";NOERROR aa
            ;answer
            _HtTp._TcP.WEB.demo.svc.ClUsTeR.LoCaL. 5 IN SRV 0 100 80 web.demo.svc.ClUsTeR.LoCaL.
            ;additional
            web.demo.svc.ClUsTeR.LoCaL. 5 IN A 10.96.1.10"),
        ("case echo headless SRV", "_WEB._TCP.NGINX.DEMO.SVC.CLUSTER.LOCAL.", SRV, ";NOERROR aa
            ;answer
            _WEB._TCP.NGINX.DEMO.SVC.CLUSTER.LOCAL. 5 IN SRV 0 50 8080 web-0.nginx.demo.svc.CLUSTER.LOCAL.
            _WEB._TCP.NGINX.DEMO.SVC.CLUSTER.LOCAL. 5 IN SRV 0 50 8080 web-1.nginx.demo.svc.CLUSTER.LOCAL.
            ;additional
            web-0.nginx.demo.svc.CLUSTER.LOCAL. 5 IN A 10.244.1.20
            web-1.nginx.demo.svc.CLUSTER.LOCAL. 5 IN A 10.244.2.21"),
        ("case echo endpoint", "WEB-0.Nginx.demo.svc.cluster.local.", A, ";NOERROR aa
            ;answer
            WEB-0.Nginx.demo.svc.cluster.local. 5 IN A 10.244.1.20"),
        ("case echo pod", "10-244-1-20.DEMO.POD.cluster.local.", A, ";NOERROR aa
            ;answer
            10-244-1-20.DEMO.POD.cluster.local. 5 IN A 10.244.1.20"),
        ("case echo NXDOMAIN keeps SOA owner lowercase", "NOPE.demo.svc.CLUSTER.local.", A, "NXDOMAIN"),
        ("name without trailing dot", "web.demo.svc.cluster.local", A, ";NOERROR aa
            ;answer
            web.demo.svc.cluster.local. 5 IN A 10.96.1.10"),
        // server level
        ("AXFR is refused", "cluster.local.", AXFR, ";REFUSED"),
        ("IXFR is refused", "cluster.local.", IXFR, ";REFUSED"),
        ("out of zone", "example.com.", A, ";REFUSED"),
    ];
    run(&default_view(), cases);
}

#[test]
fn golden_config_variants() {
    type Case = (&'static str, &'static str, RecordType, &'static str);
    let variants: Vec<(&str, Config, Vec<Case>)> = vec![
        (
            "pods disabled",
            Config {
                pods: PodsMode::Disabled,
                ..Config::default()
            },
            vec![
                (
                    "pod A",
                    "10-244-1-20.demo.pod.cluster.local.",
                    A,
                    "NXDOMAIN",
                ),
                ("<ns>.pod", "demo.pod.cluster.local.", A, "NXDOMAIN"),
                ("pod.<zone>", "pod.cluster.local.", A, "NXDOMAIN"),
                ("svc unaffected", "demo.svc.cluster.local.", A, "NODATA"),
            ],
        ),
        (
            "pods verified",
            Config {
                pods: PodsMode::Verified,
                ..Config::default()
            },
            vec![
                (
                    "known pod",
                    "10-244-1-20.demo.pod.cluster.local.",
                    A,
                    ";NOERROR aa
                ;answer
                10-244-1-20.demo.pod.cluster.local. 5 IN A 10.244.1.20",
                ),
                (
                    "unknown IP",
                    "1-2-3-4.demo.pod.cluster.local.",
                    A,
                    "NXDOMAIN",
                ),
                (
                    "pod IP in another namespace",
                    "10-244-1-20.default.pod.cluster.local.",
                    A,
                    "NXDOMAIN",
                ),
                (
                    "known pod, AAAA",
                    "10-244-1-20.demo.pod.cluster.local.",
                    AAAA,
                    "NODATA",
                ),
            ],
        ),
        (
            "ignore empty_service",
            Config {
                ignore_empty_service: true,
                ..Config::default()
            },
            vec![
                (
                    "clusterip without endpoints",
                    "plain.demo.svc.cluster.local.",
                    A,
                    "NXDOMAIN",
                ),
                (
                    "clusterip without endpoints, SRV",
                    "plain.demo.svc.cluster.local.",
                    SRV,
                    "NXDOMAIN",
                ),
                (
                    "clusterip with endpoints",
                    "web.demo.svc.cluster.local.",
                    A,
                    ";NOERROR aa
                ;answer
                web.demo.svc.cluster.local. 5 IN A 10.96.1.10",
                ),
                (
                    "ExternalName unaffected",
                    "ext.demo.svc.cluster.local.",
                    CNAME,
                    ";NOERROR aa
                ;answer
                ext.demo.svc.cluster.local. 5 IN CNAME example.com.",
                ),
            ],
        ),
        (
            "noendpoints",
            Config {
                noendpoints: true,
                ..Config::default()
            },
            vec![
                ("headless", "nginx.demo.svc.cluster.local.", A, "NXDOMAIN"),
                (
                    "endpoint",
                    "web-0.nginx.demo.svc.cluster.local.",
                    A,
                    "NXDOMAIN",
                ),
                (
                    "endpoint PTR",
                    "20.1.244.10.in-addr.arpa.",
                    PTR,
                    "RNXDOMAIN",
                ),
                (
                    "clusterip",
                    "web.demo.svc.cluster.local.",
                    A,
                    ";NOERROR aa
                ;answer
                web.demo.svc.cluster.local. 5 IN A 10.96.1.10",
                ),
            ],
        ),
        (
            "namespaces filter",
            Config {
                namespaces: vec!["demo".into()],
                ..Config::default()
            },
            vec![
                (
                    "exposed",
                    "web.demo.svc.cluster.local.",
                    A,
                    ";NOERROR aa
                ;answer
                web.demo.svc.cluster.local. 5 IN A 10.96.1.10",
                ),
                (
                    "unexposed service",
                    "kube-dns.kube-system.svc.cluster.local.",
                    A,
                    "NXDOMAIN",
                ),
                (
                    "unexposed namespace",
                    "kube-system.svc.cluster.local.",
                    A,
                    "NXDOMAIN",
                ),
                (
                    "unexposed PTR",
                    "10.0.96.10.in-addr.arpa.",
                    PTR,
                    "RNXDOMAIN",
                ),
                (
                    "unexposed pod",
                    "1-2-3-4.default.pod.cluster.local.",
                    A,
                    "NXDOMAIN",
                ),
            ],
        ),
        (
            "endpoint_pod_names",
            Config {
                endpoint_pod_names: true,
                ..Config::default()
            },
            vec![
                (
                    "pod name",
                    "web-7d9-a.web.demo.svc.cluster.local.",
                    A,
                    ";NOERROR aa
                ;answer
                web-7d9-a.web.demo.svc.cluster.local. 5 IN A 10.244.1.10",
                ),
                (
                    "dashed IP no longer",
                    "10-244-1-10.web.demo.svc.cluster.local.",
                    A,
                    "NXDOMAIN",
                ),
                (
                    "hostname still wins",
                    "web-0.nginx.demo.svc.cluster.local.",
                    A,
                    ";NOERROR aa
                ;answer
                web-0.nginx.demo.svc.cluster.local. 5 IN A 10.244.1.20",
                ),
                (
                    "PTR uses pod name",
                    "10.1.244.10.in-addr.arpa.",
                    PTR,
                    ";NOERROR aa
                ;answer
                10.1.244.10.in-addr.arpa. 5 IN PTR web-7d9-a.web.demo.svc.cluster.local.",
                ),
            ],
        ),
        (
            "own IP is an endpoint of kube-dns",
            Config {
                self_ips: vec!["10.244.0.5".parse().unwrap()],
                ..Config::default()
            },
            vec![(
                "apex NS names the Service",
                "cluster.local.",
                NS,
                ";NOERROR aa
                ;answer
                cluster.local. 5 IN NS kube-dns.kube-system.svc.cluster.local.
                ;additional
                kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.10",
            )],
        ),
        (
            "own IP not an endpoint",
            Config {
                self_ips: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
                ..Config::default()
            },
            vec![
                (
                    "apex NS with glue",
                    "cluster.local.",
                    NS,
                    ";NOERROR aa
                ;answer
                cluster.local. 5 IN NS ns.dns.cluster.local.
                ;additional
                ns.dns.cluster.local. 5 IN A 127.0.0.1
                ns.dns.cluster.local. 5 IN AAAA ::1",
                ),
                (
                    "ns.dns A",
                    "ns.dns.cluster.local.",
                    A,
                    ";NOERROR aa
                ;answer
                ns.dns.cluster.local. 5 IN A 127.0.0.1",
                ),
                (
                    "ns.dns AAAA",
                    "ns.dns.cluster.local.",
                    AAAA,
                    ";NOERROR aa
                ;answer
                ns.dns.cluster.local. 5 IN AAAA ::1",
                ),
            ],
        ),
    ];
    for (label, config, cases) in variants {
        let view = fixtures::view(&config);
        let result = std::panic::catch_unwind(|| run(&view, &cases));
        assert!(result.is_ok(), "variant {label} failed");
    }
}

#[test]
fn ttl_option_and_soa_ttl_cap() {
    let view = fixtures::view(&Config {
        ttl: 600,
        ..Config::default()
    });
    let a = answer(&view, "web.demo.svc.cluster.local.", A, DNSClass::IN);
    assert_eq!(a.answers[0].ttl, 600);
    let nx = answer(&view, "nope.demo.svc.cluster.local.", A, DNSClass::IN);
    assert_eq!(
        nx.authority[0].to_string(),
        format!(
            "cluster.local. 300 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. {SERIAL} 7200 1800 86400 600"
        )
    );
    let txt = answer(&view, "dns-version.cluster.local.", TXT, DNSClass::IN);
    assert_eq!(txt.answers[0].ttl, 28800);
}

#[test]
fn servfail_before_first_sync() {
    let config = Config::default();
    let mut view = ZoneView::unsynced(&config);
    for s in fixtures::services() {
        view.apply_service(&s);
    }
    let miss = answer(&view, "nope.demo.svc.cluster.local.", A, DNSClass::IN);
    assert_eq!(miss.to_zone_text(), ";SERVFAIL\n");
    // Known names still answer, and NODATA stays NODATA.
    let hit = answer(&view, "web.demo.svc.cluster.local.", A, DNSClass::IN);
    assert_eq!(hit.rcode, Rcode::NoError);
    assert_eq!(hit.answers.len(), 1);
    assert_eq!(
        answer(&view, "cluster.local.", A, DNSClass::IN).rcode,
        Rcode::NoError
    );
    view.mark_synced();
    assert_eq!(
        answer(&view, "nope.demo.svc.cluster.local.", A, DNSClass::IN).rcode,
        Rcode::NxDomain
    );
}

#[test]
fn non_in_class_is_refused() {
    let view = default_view();
    for class in [DNSClass::CH, DNSClass::HS, DNSClass::ANY] {
        let a = answer(&view, "web.demo.svc.cluster.local.", A, class);
        assert_eq!(
            (a.rcode, a.authoritative),
            (Rcode::Refused, false),
            "{class:?}"
        );
    }
}

#[test]
fn next_steps() {
    let view = default_view();
    let ask = |name: &str, qtype| answer(&view, name, qtype, DNSClass::IN).next;
    assert_eq!(ask("example.com.", A), Next::Forward);
    assert_eq!(
        ask("ext.demo.svc.cluster.local.", AAAA),
        Next::Upstream {
            name: "example.com.".into(),
            qtype: AAAA
        }
    );
    assert_eq!(ask("ext.demo.svc.cluster.local.", CNAME), Next::Done);
    // kubeadm: reverse misses fall through to upstream, forward misses are final.
    assert_eq!(ask("99.99.96.10.in-addr.arpa.", PTR), Next::Fallthrough);
    assert_eq!(ask("nope.demo.svc.cluster.local.", A), Next::Done);
    assert_eq!(ask("web.demo.svc.cluster.local.", A), Next::Done);

    let off = fixtures::view(&Config {
        fallthrough: Fallthrough::Off,
        ..Config::default()
    });
    assert_eq!(
        answer(&off, "99.99.96.10.in-addr.arpa.", PTR, DNSClass::IN).next,
        Next::Done
    );
    let all = fixtures::view(&Config {
        fallthrough: Fallthrough::All,
        ..Config::default()
    });
    assert_eq!(
        answer(&all, "nope.demo.svc.cluster.local.", A, DNSClass::IN).next,
        Next::Fallthrough
    );
}

#[test]
fn cname_precedes_its_target() {
    let view = default_view();
    let a = answer(&view, "alias.demo.svc.cluster.local.", A, DNSClass::IN);
    let types: Vec<RecordType> = a.answers.iter().map(|r| r.data.record_type()).collect();
    assert_eq!(types, vec![CNAME, A]);
}

#[test]
fn externalname_loop_terminates() {
    let mut view = default_view();
    let svc = serde_json::from_value(serde_json::json!({
        "metadata": {"namespace": "demo", "name": "loop"},
        "spec": {"type": "ExternalName", "externalName": "loop.demo.svc.cluster.local"}
    }))
    .unwrap();
    view.apply_service(&svc);
    let a = answer(&view, "loop.demo.svc.cluster.local.", A, DNSClass::IN);
    assert!(a.answers.len() <= 10, "chain bounded: {}", a.answers.len());
}
