//! More of the API through real clients: paging, selectors, patches, collections, ClusterIP
//! requests, namespace termination, authentication and both kubectl versions on the seed.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use testkit::{Server, fails, ok};

/// The API alone: no simulated nodes, so pods stay as the test leaves them.
fn server() -> Result<Server> {
    Server::start(Path::new(env!("CARGO_BIN_EXE_svcplane")), &["--nodes", "0"])
}

fn svc(name: &str, extra_labels: &str, cluster_ip: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Service","metadata":{{"name":"{name}","labels":{{"app":"{name}"{extra_labels}}}}},
           "spec":{{{cluster_ip}"ports":[{{"name":"http","port":80}}],"selector":{{"app":"{name}"}}}}}}"#
    )
}

#[test]
fn selectors_paging_patches_and_collections() -> Result<()> {
    let s = server()?;
    for (name, tier) in [("a", "web"), ("b", "web"), ("c", "db"), ("d", "cache")] {
        ok(s.kubectl_stdin(
            &["create", "-f", "-"],
            &svc(name, &format!(r#","tier":"{tier}""#), ""),
        )?)?;
    }
    let set_based = ok(s.kubectl(&["get", "svc", "-l", "tier in (web,db)", "-o", "name"])?)?;
    assert_eq!(
        set_based.lines().collect::<Vec<_>>(),
        ["service/a", "service/b", "service/c"]
    );
    let not_web = ok(s.kubectl(&["get", "svc", "-l", "tier,tier!=web", "-o", "name"])?)?;
    assert_eq!(
        not_web.lines().collect::<Vec<_>>(),
        ["service/c", "service/d"]
    );
    let by_field = ok(s.kubectl(&[
        "get",
        "svc",
        "--field-selector",
        "metadata.name=b",
        "-o",
        "name",
    ])?)?;
    assert_eq!(by_field.trim(), "service/b");
    let bad_field = fails(s.kubectl(&["get", "svc", "--field-selector", "spec.bogus=1"])?)?;
    assert!(
        bad_field.contains("field label not supported: spec.bogus"),
        "{bad_field}"
    );

    // --chunk-size pages with limit/continue; every object comes back exactly once.
    let paged = ok(s.kubectl(&["get", "svc", "--chunk-size=1", "-o", "name"])?)?;
    assert_eq!(
        paged.lines().collect::<Vec<_>>(),
        [
            "service/a",
            "service/b",
            "service/c",
            "service/d",
            "service/kubernetes"
        ]
    );
    let all_ns = ok(s.kubectl(&["get", "svc", "-A"])?)?;
    assert!(
        all_ns.lines().any(|l| l.starts_with("kube-system")
            && l.contains("kube-dns")
            && l.contains("10.96.0.10")),
        "{all_ns}"
    );

    ok(s.kubectl(&["annotate", "svc", "a", "note=hello"])?)?;
    ok(s.kubectl(&[
        "patch",
        "svc",
        "a",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/ports/0/port","value":8080}]"#,
    ])?)?;
    ok(s.kubectl(&[
        "patch",
        "svc",
        "a",
        "-p",
        r#"{"spec":{"ports":[{"port":9090,"name":"metrics"}]}}"#,
    ])?)?;
    let ports = ok(s.kubectl(&[
        "get",
        "svc",
        "a",
        "-o",
        "jsonpath={.metadata.annotations.note} {.spec.ports[*].port}",
    ])?)?;
    assert_eq!(ports, "hello 9090 8080");

    let list = ok(s.kubectl(&["get", "svc", "-l", "tier", "-o", "json"])?)?;
    let list: serde_json::Value = serde_json::from_str(&list)?;
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(4));

    let deleted = ok(s.kubectl(&["delete", "svc", "-l", "tier=web"])?)?;
    assert!(
        deleted.contains(r#"service "a" deleted"#) && deleted.contains(r#"service "b" deleted"#),
        "{deleted}"
    );
    let left = ok(s.kubectl(&["get", "svc", "-l", "tier", "-o", "name"])?)?;
    assert_eq!(left.lines().collect::<Vec<_>>(), ["service/c", "service/d"]);
    Ok(())
}

#[test]
fn cluster_ips_are_honoured_unique_and_kept_across_restarts() -> Result<()> {
    let mut s = server()?;
    ok(s.kubectl_stdin(
        &["create", "-f", "-"],
        &svc("fixed", "", r#""clusterIP":"10.96.100.100","#),
    )?)?;
    let ip = ok(s.kubectl(&[
        "get",
        "svc",
        "fixed",
        "-o",
        "jsonpath={.spec.clusterIP} {.spec.clusterIPs[0]} {.spec.ipFamilies[0]}",
    ])?)?;
    assert_eq!(ip, "10.96.100.100 10.96.100.100 IPv4");
    let taken = fails(s.kubectl_stdin(
        &["create", "-f", "-"],
        &svc("clash", "", r#""clusterIP":"10.96.100.100","#),
    )?)?;
    assert!(
        taken.contains("failed to allocate IP 10.96.100.100: provided IP is already allocated"),
        "{taken}"
    );
    let outside = fails(s.kubectl_stdin(
        &["create", "-f", "-"],
        &svc("far", "", r#""clusterIP":"192.168.0.1","#),
    )?)?;
    assert!(outside.contains("is not in the valid range"), "{outside}");

    s.restart()?;
    let again = fails(s.kubectl_stdin(
        &["create", "-f", "-"],
        &svc("clash", "", r#""clusterIP":"10.96.100.100","#),
    )?)?;
    assert!(
        again.contains("provided IP is already allocated"),
        "{again}"
    );
    ok(s.kubectl(&["delete", "svc", "fixed"])?)?;
    ok(s.kubectl_stdin(
        &["create", "-f", "-"],
        &svc("reuse", "", r#""clusterIP":"10.96.100.100","#),
    )?)?;

    // `replace` with a manifest that never had a clusterIP keeps the allocated one.
    ok(s.kubectl_stdin(&["replace", "-f", "-"], &svc("reuse", r#","v":"2""#, ""))?)?;
    let kept = ok(s.kubectl(&[
        "get",
        "svc",
        "reuse",
        "-o",
        "jsonpath={.spec.clusterIP} {.metadata.labels.v}",
    ])?)?;
    assert_eq!(kept, "10.96.100.100 2");

    let immutable = fails(s.kubectl(&[
        "patch",
        "svc",
        "reuse",
        "-p",
        r#"{"spec":{"clusterIP":"10.96.100.101","clusterIPs":["10.96.100.101"]}}"#,
    ])?)?;
    assert!(
        immutable.contains("is invalid") && immutable.contains("spec.clusterIPs[0]"),
        "{immutable}"
    );
    Ok(())
}

#[test]
fn namespaces_terminate_and_refuse_content() -> Result<()> {
    let s = server()?;
    let missing = fails(s.kubectl_stdin(&["create", "-n", "nons", "-f", "-"], &svc("x", "", ""))?)?;
    assert!(
        missing.contains(r#"namespaces "nons" not found"#),
        "{missing}"
    );
    let empty = s.kubectl(&["get", "svc", "-n", "nons"])?;
    assert!(
        String::from_utf8_lossy(&empty.stderr).contains("No resources found in nons namespace.")
    );

    ok(s.kubectl(&["create", "namespace", "doomed"])?)?;
    ok(s.kubectl_stdin(&["create", "-n", "doomed", "-f", "-"], &svc("x", "", ""))?)?;
    ok(s.kubectl(&[
        "create",
        "configmap",
        "cfg",
        "-n",
        "doomed",
        "--from-literal=a=b",
    ])?)?;
    let out = ok(s.kubectl(&["delete", "namespace", "doomed"])?)?;
    assert_eq!(out.trim(), r#"namespace "doomed" deleted"#);
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.kubectl(&["get", "namespace", "doomed"])?.status.success() {
        assert!(
            Instant::now() < deadline,
            "namespace doomed never went away"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let cms = s.kubectl(&["get", "cm", "-n", "doomed", "-o", "name"])?;
    assert!(String::from_utf8_lossy(&cms.stdout).trim().is_empty());
    Ok(())
}

#[test]
fn kubectl_1_32_reads_the_seed_like_1_33() -> Result<()> {
    let s = server()?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/headless-svc.yaml");
    let manifest = manifest.display().to_string();
    assert_eq!(
        ok(s.kubectl_minor(32, &["apply", "-f", &manifest])?)?.trim(),
        "service/my-nginx-headless-svc created"
    );
    let wide_32 = ok(s.kubectl_minor(32, &["get", "svc", "-o", "wide"])?)?;
    let wide_33 = ok(s.kubectl(&["get", "svc", "-o", "wide"])?)?;
    let shape = |t: &str| {
        t.lines()
            .map(|l| l.split_whitespace().filter(|c| !c.ends_with('s')).count())
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&wide_32), shape(&wide_33), "{wide_32}\n{wide_33}");
    let describe = ok(s.kubectl_minor(32, &["describe", "svc", "my-nginx-headless-svc"])?)?;
    assert!(
        describe.contains("httpport  80/TCP") && describe.contains("run=my-nginx"),
        "{describe}"
    );
    Ok(())
}

#[test]
fn requests_without_the_token_are_unauthorized() -> Result<()> {
    let s = server()?;
    let kubeconfig = std::fs::read_to_string(&s.kubeconfig)?;
    let forged = kubeconfig
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("token:") {
                "    token: not-the-token"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = s.data_dir().join("forged-kubeconfig");
    std::fs::write(&path, forged)?;
    let out = std::process::Command::new("kubectl")
        .args(["get", "svc", "--cache-dir"])
        .arg(s.data_dir().join("forged-cache"))
        .env("KUBECONFIG", &path)
        .output()?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Unauthorized") || err.contains("must be logged in"),
        "{err}"
    );
    Ok(())
}

#[test]
fn malformed_and_oversized_bodies_are_refused_and_store_nothing() -> Result<()> {
    let s = server()?;
    let dir = tempfile::tempdir()?;
    let path = "/api/v1/namespaces/default/configmaps";
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "truncated.json",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x""#.to_vec(),
            "BadRequest",
        ),
        ("not-an-object.json", b"[1,2,3]".to_vec(), "BadRequest"),
        (
            "huge.json",
            format!(
                r#"{{"metadata":{{"name":"huge"}},"data":{{"a":"{}"}}}}"#,
                "x".repeat(4 << 20)
            )
            .into_bytes(),
            "RequestEntityTooLarge",
        ),
    ];
    for (file, body, reason) in cases {
        let f = dir.path().join(file);
        std::fs::write(&f, body)?;
        let err = fails(s.kubectl(&["create", "--raw", path, "-f", &f.display().to_string()])?)?;
        assert!(
            err.contains(reason) || err.contains("too large"),
            "{file}: {err}"
        );
    }
    let names = ok(s.kubectl(&["get", "cm", "-o", "name"])?)?;
    assert!(names.trim().is_empty(), "{names}");
    Ok(())
}

#[test]
fn pods_bind_once_delete_gracefully_and_refuse_exec() -> Result<()> {
    let s = server()?;
    ok(s.kubectl(&["run", "p1", "--image=nginx"])?)?;
    let dir = tempfile::tempdir()?;
    let binding = dir.path().join("binding.json");
    std::fs::write(
        &binding,
        r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p1"},"target":{"kind":"Node","name":"node-9"}}"#,
    )?;
    let path = "/api/v1/namespaces/default/pods/p1/binding";
    ok(s.kubectl(&[
        "create",
        "--raw",
        path,
        "-f",
        &binding.display().to_string(),
    ])?)?;
    let node = ok(s.kubectl(&["get", "pod", "p1", "-o", "jsonpath={.spec.nodeName}"])?)?;
    assert_eq!(node, "node-9");
    let again = fails(s.kubectl(&[
        "create",
        "--raw",
        path,
        "-f",
        &binding.display().to_string(),
    ])?)?;
    assert!(again.contains("already assigned to node"), "{again}");

    let exec = fails(s.kubectl(&["exec", "p1", "--", "ls"])?)?;
    assert!(
        exec.contains("simulated node") && exec.contains("pods/exec"),
        "{exec}"
    );

    // A bound pod waits for its kubelet: marked with a deletionTimestamp, then gone at grace 0.
    ok(s.kubectl(&["delete", "pod", "p1", "--wait=false"])?)?;
    let marked = ok(s.kubectl(&[
        "get",
        "pod",
        "p1",
        "-o",
        "jsonpath={.metadata.deletionGracePeriodSeconds}",
    ])?)?;
    assert_eq!(marked, "30");
    let status = ok(s.kubectl(&["get", "pod", "p1"])?)?;
    assert!(status.contains("Terminating"), "{status}");
    ok(s.kubectl(&["delete", "pod", "p1", "--grace-period=0", "--force"])?)?;
    assert!(!s.kubectl(&["get", "pod", "p1"])?.status.success());
    Ok(())
}
