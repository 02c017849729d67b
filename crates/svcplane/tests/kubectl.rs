//! End to end with the real kubectl (through the gcloud dispatcher, which picks kubectl 1.33 for
//! our `/version`, and the pinned kubectl 1.32 that sends protobuf bodies): the seed walkthrough
//! on a headless Service, everyday verbs, and each Kubernetes error form.

use std::path::Path;

use anyhow::Result;
use testkit::example;
use testkit::{Server, fails, ok};

fn server() -> Result<Server> {
    Server::start(Path::new(env!("CARGO_BIN_EXE_svcplane")), &[])
}

/// Column values of the row whose first cell is `name`.
fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default()
}

#[test]
fn seed_walkthrough_on_a_headless_service() -> Result<()> {
    let s = server()?;
    let headless = example("headless-svc.yaml");
    assert_eq!(
        ok(s.kubectl(&["apply", "-f", &headless])?)?.trim(),
        "service/my-nginx-headless-svc created"
    );

    let wide = ok(s.kubectl(&["get", "svc", "-o", "wide"])?)?;
    let header: Vec<&str> = wide
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
            "SELECTOR"
        ]
    );
    let r = row(&wide, "my-nginx-headless-svc");
    assert_eq!(
        (r[1], r[2], r[3], r[4], r[6]),
        ("ClusterIP", "None", "<none>", "80/TCP", "run=my-nginx"),
        "{wide}"
    );
    let k = row(&wide, "kubernetes");
    assert_eq!(
        (k[1], k[2], k[4], k[6]),
        ("ClusterIP", "10.96.0.1", "443/TCP", "<none>"),
        "{wide}"
    );

    let describe = ok(s.kubectl(&["describe", "svc", "my-nginx-headless-svc"])?)?;
    for line in [
        "Selector:",
        "run=my-nginx",
        "IP:",
        "None",
        "httpport  80/TCP",
        "TargetPort:",
        "80/TCP",
        "Session Affinity:",
    ] {
        assert!(describe.contains(line), "missing {line:?} in\n{describe}");
    }
    assert!(
        describe
            .lines()
            .any(|l| l.starts_with("IP:") && l.trim_end().ends_with("None")),
        "{describe}"
    );

    let all = ok(s.kubectl(&["get", "all"])?)?;
    assert!(all.contains("service/my-nginx-headless-svc"), "{all}");
    assert!(all.contains("service/kubernetes"), "{all}");

    let yaml = ok(s.kubectl(&["get", "svc", "my-nginx-headless-svc", "-o", "yaml"])?)?;
    assert!(
        yaml.contains("clusterIP: None")
            && yaml.contains("name: httpport")
            && yaml.contains("resourceVersion:"),
        "{yaml}"
    );
    let name = ok(s.kubectl(&["get", "svc", "-o", "name"])?)?;
    assert!(
        name.lines().any(|l| l == "service/my-nginx-headless-svc"),
        "{name}"
    );

    // Re-applying the same file is a no-op; a changed file is a strategic-merge patch.
    assert_eq!(
        ok(s.kubectl(&["apply", "-f", &headless])?)?.trim(),
        "service/my-nginx-headless-svc unchanged"
    );
    let changed = std::fs::read_to_string(&headless)?.replace(
        "name: my-nginx-headless-svc",
        "name: my-nginx-headless-svc\n  labels:\n    tier: web",
    );
    assert_eq!(
        ok(s.kubectl_stdin(&["apply", "-f", "-"], &changed)?)?.trim(),
        "service/my-nginx-headless-svc configured"
    );
    let labels = ok(s.kubectl(&["get", "svc", "my-nginx-headless-svc", "--show-labels"])?)?;
    assert!(labels.contains("tier=web"), "{labels}");

    assert_eq!(
        ok(s.kubectl(&["label", "svc", "my-nginx-headless-svc", "team=dns"])?)?.trim(),
        "service/my-nginx-headless-svc labeled"
    );
    let selected = ok(s.kubectl(&["get", "svc", "-l", "team=dns", "-o", "name"])?)?;
    assert_eq!(selected.trim(), "service/my-nginx-headless-svc");

    assert_eq!(
        ok(s.kubectl(&["delete", "svc", "my-nginx-headless-svc"])?)?.trim(),
        r#"service "my-nginx-headless-svc" deleted"#
    );
    let gone = fails(s.kubectl(&["get", "svc", "my-nginx-headless-svc"])?)?;
    assert!(
        gone.contains(
            r#"Error from server (NotFound): services "my-nginx-headless-svc" not found"#
        ),
        "{gone}"
    );
    Ok(())
}

#[test]
fn server_side_apply_generators_and_scale() -> Result<()> {
    let s = server()?;
    let headless = example("headless-svc.yaml");
    let out = ok(s.kubectl(&["apply", "--server-side", "-f", &headless])?)?;
    assert_eq!(
        out.trim(),
        "service/my-nginx-headless-svc serverside-applied"
    );
    let out = ok(s.kubectl(&["apply", "--server-side", "-f", &headless])?)?;
    assert_eq!(
        out.trim(),
        "service/my-nginx-headless-svc serverside-applied"
    );

    // kubectl 1.32 sends protobuf bodies for these generators; 1.33 through the dispatcher too.
    for (kubectl, ns) in [(None, "demo"), (Some(32), "demo32")] {
        let run = |args: &[&str]| match kubectl {
            Some(minor) => s.kubectl_minor(minor, args),
            None => s.kubectl(args),
        };
        assert_eq!(
            ok(run(&["create", "namespace", ns])?)?.trim(),
            format!("namespace/{ns} created")
        );
        let out = ok(run(&[
            "create",
            "deployment",
            "my-nginx",
            "--image=nginx",
            "--replicas=2",
            "-n",
            ns,
        ])?)?;
        assert_eq!(out.trim(), "deployment.apps/my-nginx created");
        let deploy = ok(run(&[
            "get",
            "deploy",
            "my-nginx",
            "-n",
            ns,
            "-o",
            "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].name} {.spec.selector.matchLabels.app}",
        ])?)?;
        assert_eq!(deploy, "2 nginx my-nginx");
        assert_eq!(
            ok(run(&[
                "scale",
                "deployment",
                "my-nginx",
                "--replicas=3",
                "-n",
                ns
            ])?)?
            .trim(),
            "deployment.apps/my-nginx scaled"
        );
        let replicas = ok(run(&[
            "get",
            "deploy",
            "my-nginx",
            "-n",
            ns,
            "-o",
            "jsonpath={.spec.replicas}",
        ])?)?;
        assert_eq!(replicas, "3");
        let again = fails(run(&["create", "namespace", ns])?)?;
        assert!(
            again.contains(&format!(r#"namespaces "{ns}" already exists"#)),
            "{again}"
        );
    }
    let out = ok(s.kubectl_minor(
        32,
        &[
            "create",
            "service",
            "clusterip",
            "web",
            "--tcp=80:8080",
            "-n",
            "demo",
        ],
    )?)?;
    assert_eq!(out.trim(), "service/web created");
    let wide = ok(s.kubectl(&["get", "svc", "web", "-n", "demo"])?)?;
    let r = row(&wide, "web");
    assert!(r[2].starts_with("10.") && r[4] == "80/TCP", "{wide}");
    Ok(())
}

#[test]
fn errors_read_like_kube_apiserver() -> Result<()> {
    let s = server()?;
    let missing = fails(s.kubectl(&["get", "svc", "missing"])?)?;
    assert!(
        missing.contains(r#"Error from server (NotFound): services "missing" not found"#),
        "{missing}"
    );

    let svc = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":80}],"selector":{"app":"web"}}}"#;
    ok(s.kubectl_stdin(&["create", "-f", "-"], svc)?)?;
    let twice = fails(s.kubectl_stdin(&["create", "-f", "-"], svc)?)?;
    assert!(
        twice.contains(r#"Error from server (AlreadyExists)"#)
            && twice.contains(r#"services "web" already exists"#),
        "{twice}"
    );

    let stale = svc.replace(r#""name":"web""#, r#""name":"web","resourceVersion":"1""#);
    let conflict = fails(s.kubectl_stdin(&["replace", "-f", "-"], &stale)?)?;
    assert!(
        conflict.contains("Error from server (Conflict)")
            && conflict.contains(r#"Operation cannot be fulfilled on services "web": the object has been modified; please apply your changes to the latest version and try again"#),
        "{conflict}"
    );

    let bad_port = svc
        .replace(r#""name":"web""#, r#""name":"bad""#)
        .replace(r#""port":80"#, r#""port":70000,"targetPort":8080"#);
    let invalid = fails(s.kubectl_stdin(&["create", "-f", "-"], &bad_port)?)?;
    assert!(
        invalid.contains(r#"The Service "bad" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"#),
        "{invalid}"
    );
    let listed = ok(s.kubectl(&["get", "svc", "-o", "name"])?)?;
    assert!(
        !listed.contains("service/bad"),
        "an invalid object was stored: {listed}"
    );

    let unknown = svc
        .replace(r#""name":"web""#, r#""name":"odd""#)
        .replace(r#""ports""#, r#""bogus":true,"ports""#);
    let strict = fails(s.kubectl_stdin(&["create", "-f", "-"], &unknown)?)?;
    assert!(
        strict.contains(r#"strict decoding error: unknown field "spec.bogus""#),
        "{strict}"
    );
    Ok(())
}

#[test]
fn watch_prints_changes() -> Result<()> {
    let s = server()?;
    ok(s.kubectl(&["apply", "-f", &example("headless-svc.yaml")])?)?;
    let mut watcher = std::process::Command::new("kubectl")
        .args([
            "get",
            "svc",
            "my-nginx-headless-svc",
            "-w",
            "--output-watch-events",
            "--request-timeout=20s",
        ])
        .env("KUBECONFIG", &s.kubeconfig)
        .env("KUBECACHEDIR", s.data_dir().join("watch-cache"))
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    std::thread::sleep(std::time::Duration::from_secs(2));
    ok(s.kubectl(&["label", "svc", "my-nginx-headless-svc", "step=1"])?)?;
    ok(s.kubectl(&["delete", "svc", "my-nginx-headless-svc"])?)?;
    std::thread::sleep(std::time::Duration::from_secs(2));
    let _ = watcher.kill();
    let out = String::from_utf8(watcher.wait_with_output()?.stdout)?;
    let events: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(events.starts_with(&["EVENT", "ADDED"]), "{out}");
    assert!(
        events.contains(&"MODIFIED") && events.contains(&"DELETED"),
        "{out}"
    );
    Ok(())
}
