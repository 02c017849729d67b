//! The parts of a kubeconfig apibench needs: the server URL, the CA and a bearer token. Only the
//! embedded forms (`certificate-authority-data`, `token`) are read, which is what svcplane writes.

use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;
use serde::Deserialize;

#[derive(Debug, Default)]
pub struct Credentials {
    pub server: String,
    pub ca_pem: Option<Vec<u8>>,
    pub token: Option<String>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    users: Vec<Named<User>>,
    #[serde(default)]
    contexts: Vec<Named<KubeContext>>,
    #[serde(rename = "current-context")]
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    value: T,
}

#[derive(Deserialize)]
struct Cluster {
    server: String,
    #[serde(rename = "certificate-authority-data")]
    ca_data: Option<String>,
}

#[derive(Deserialize, Default)]
struct User {
    token: Option<String>,
}

#[derive(Deserialize)]
struct KubeContext {
    cluster: String,
    user: Option<String>,
}

pub fn load(path: &Path) -> Result<Credentials> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("parsing kubeconfig {}", path.display()))
}

fn parse(text: &str) -> Result<Credentials> {
    let file: File = serde_saphyr::from_str(text)?;
    let context = file
        .current_context
        .as_ref()
        .and_then(|name| file.contexts.iter().find(|c| &c.name == name))
        .map(|c| &c.value);
    // Without a (known) current context, the first cluster and user are the only sane choice.
    let cluster = match context {
        Some(ctx) => file.clusters.iter().find(|c| c.name == ctx.cluster),
        None => file.clusters.first(),
    }
    .context("no cluster for the current context")?;
    let user = match context.and_then(|ctx| ctx.user.as_ref()) {
        Some(name) => file.users.iter().find(|u| &u.name == name),
        None => file.users.first(),
    };
    let ca_pem = cluster
        .value
        .ca_data
        .as_deref()
        .map(|data| base64::engine::general_purpose::STANDARD.decode(data.trim()))
        .transpose()
        .context("certificate-authority-data is not base64")?;
    Ok(Credentials {
        server: cluster.value.server.clone(),
        ca_pem,
        token: user.and_then(|u| u.value.token.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svcplane_kubeconfig() {
        let text = "apiVersion: v1\nkind: Config\nclusters:\n- name: svcplane\n  cluster:\n    \
                    server: https://127.0.0.1:6443\n    certificate-authority-data: aGVsbG8=\n\
                    users:\n- name: admin\n  user:\n    token: secret\ncontexts:\n- name: svcplane\n  \
                    context:\n    cluster: svcplane\n    user: admin\n    namespace: default\n\
                    current-context: svcplane\npreferences: {}\n";
        let creds = parse(text).unwrap();
        assert_eq!(creds.server, "https://127.0.0.1:6443");
        assert_eq!(creds.ca_pem.as_deref(), Some(&b"hello"[..]));
        assert_eq!(creds.token.as_deref(), Some("secret"));
    }

    #[test]
    fn insecure_kubeconfig_has_no_credentials() {
        let text = "apiVersion: v1\nkind: Config\nclusters:\n- name: svcplane\n  cluster:\n    \
                    server: http://127.0.0.1:8080\nusers:\n- name: admin\n  user: {}\n\
                    contexts:\n- name: svcplane\n  context:\n    cluster: svcplane\n    user: admin\n\
                    current-context: svcplane\n";
        let creds = parse(text).unwrap();
        assert_eq!(creds.server, "http://127.0.0.1:8080");
        assert!(creds.ca_pem.is_none() && creds.token.is_none());
    }
}
