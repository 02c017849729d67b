//! A thin HTTP client on hyper's connection API: apibench must cost the server as little CPU
//! as possible on a 2-core machine, so there is no pooling, retry or middleware layer (kube-rs
//! has all three, and speaks only HTTP/1.1). The caller decides how connections are shared:
//! an HTTP/2 connection is cloned across tasks and multiplexes their requests, like client-go
//! and etcd's gRPC client; an HTTP/1.1 connection belongs to one task.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::kubeconfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Proto {
    /// One HTTP/1.1 keep-alive connection per client.
    H1,
    /// HTTP/2 connections shared by all clients (ALPN `h2` over TLS, prior knowledge over HTTP).
    H2,
}

/// How to reach the API server: flags shared by the subcommands that talk to svcplane.
#[derive(clap::Args, Clone)]
pub struct ApiArgs {
    /// Server URL; defaults to the kubeconfig's server.
    #[arg(long)]
    pub url: Option<String>,
    /// Kubeconfig with the CA and bearer token (not needed for an `http://` URL).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
}

/// A server, its TLS settings and credentials.
pub struct Endpoint {
    /// `scheme://host:port`, the base of every request URI.
    base: String,
    host_header: HeaderValue,
    /// What to connect the TCP socket to.
    addr: String,
    tls: Option<Tls>,
    authorization: Option<HeaderValue>,
}

struct Tls {
    server_name: ServerName<'static>,
    h1: TlsConnector,
    h2: TlsConnector,
}

impl Endpoint {
    pub fn new(args: &ApiArgs) -> Result<Arc<Endpoint>> {
        let creds = match &args.kubeconfig {
            Some(path) => kubeconfig::load(path)?,
            None => kubeconfig::Credentials::default(),
        };
        let url = args.url.clone().unwrap_or_else(|| creds.server.clone());
        if url.is_empty() {
            bail!("give --url or a --kubeconfig with a server");
        }
        let uri: Uri = url
            .parse()
            .with_context(|| format!("invalid URL {url:?}"))?;
        let authority = uri.authority().context("the URL has no host")?.clone();
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => bail!("the URL must start with http:// or https://"),
        };
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let tls = if https {
            let ca = creds
                .ca_pem
                .as_deref()
                .context("an https URL needs a kubeconfig with certificate-authority-data")?;
            Some(Tls {
                server_name: ServerName::try_from(host.to_string())?,
                h1: connector(ca, b"http/1.1")?,
                h2: connector(ca, b"h2")?,
            })
        } else {
            None
        };
        let authorization = creds
            .token
            .as_ref()
            .filter(|_| https)
            .map(|token| HeaderValue::try_from(format!("Bearer {token}")))
            .transpose()?;
        Ok(Arc::new(Endpoint {
            base: format!("{}://{authority}", if https { "https" } else { "http" }),
            host_header: HeaderValue::try_from(authority.as_str())?,
            addr: format!("{host}:{port}"),
            tls,
            authorization,
        }))
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Opens one connection; its driver runs as a task until the last sender is dropped.
    pub async fn connect(&self, proto: Proto) -> Result<Sender> {
        let tcp = TcpStream::connect(&self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        // Requests are small and latency is what is measured: no Nagle delay.
        tcp.set_nodelay(true)?;
        let Some(tls) = &self.tls else {
            return handshake(tcp, proto, self.host_header.clone()).await;
        };
        let connector = match proto {
            Proto::H1 => &tls.h1,
            Proto::H2 => &tls.h2,
        };
        let stream = connector
            .connect(tls.server_name.clone(), tcp)
            .await
            .context("TLS handshake")?;
        if proto == Proto::H2 && stream.get_ref().1.alpn_protocol() != Some(b"h2") {
            bail!("the server did not agree to HTTP/2 (ALPN h2)");
        }
        handshake(stream, proto, self.host_header.clone()).await
    }

    /// A request with an absolute URI and the credentials.
    pub fn request(&self, method: Method, path: &str, body: Bytes) -> Result<Request<Full<Bytes>>> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/json");
        if let Some(auth) = &self.authorization {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        Ok(builder.body(Full::new(body))?)
    }
}

fn connector(ca_pem: &[u8], alpn: &[u8]) -> Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.context("reading the CA certificate")?)?;
    }
    // Named explicitly: the default provider depends on which rustls features the rest of the
    // dependency graph happens to enable.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn handshake<S>(stream: S, proto: Proto, host: HeaderValue) -> Result<Sender>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(stream);
    match proto {
        Proto::H1 => {
            let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
            tokio::spawn(conn);
            Ok(Sender::H1 { sender, host })
        }
        Proto::H2 => {
            let (sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(conn);
            Ok(Sender::H2(sender))
        }
    }
}

/// One connection's request handle.
pub enum Sender {
    H1 {
        sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
        host: HeaderValue,
    },
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    /// Another handle on the same connection: only HTTP/2 multiplexes.
    pub fn share(&self) -> Option<Sender> {
        match self {
            Sender::H1 { .. } => None,
            Sender::H2(sender) => Some(Sender::H2(sender.clone())),
        }
    }

    pub async fn send(&mut self, mut request: Request<Full<Bytes>>) -> Result<Response<Incoming>> {
        match self {
            Sender::H1 { sender, host } => {
                // HTTP/1.1 requests carry the path only (origin form) and a Host header.
                let path = request
                    .uri()
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .parse()?;
                *request.uri_mut() = path;
                request.headers_mut().insert(HOST, host.clone());
                sender.ready().await?;
                Ok(sender.send_request(request).await?)
            }
            Sender::H2(sender) => {
                sender.ready().await?;
                Ok(sender.send_request(request).await?)
            }
        }
    }

    /// Sends `request`, reads the whole response, and fails unless the status is `expected`.
    pub async fn call(
        &mut self,
        request: Request<Full<Bytes>>,
        expected: &[StatusCode],
    ) -> Result<Bytes> {
        let response = self.send(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if !expected.contains(&status) {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            bail!("HTTP {status}: {text}");
        }
        Ok(body)
    }
}

/// Creates namespace `name` unless it exists.
pub async fn ensure_namespace(endpoint: &Endpoint, sender: &mut Sender, name: &str) -> Result<()> {
    let body =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    let request = endpoint.request(
        Method::POST,
        "/api/v1/namespaces",
        Bytes::from(body.to_string()),
    )?;
    sender
        .call(request, &[StatusCode::CREATED, StatusCode::CONFLICT])
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

/// The resourceVersion of a list: every watch starts right after it.
pub async fn list_revision(endpoint: &Endpoint, sender: &mut Sender, path: &str) -> Result<String> {
    #[derive(Deserialize)]
    struct List {
        metadata: ListMeta,
    }
    #[derive(Deserialize)]
    struct ListMeta {
        #[serde(rename = "resourceVersion")]
        resource_version: String,
    }
    let request = endpoint.request(Method::GET, &format!("{path}?limit=1"), Bytes::new())?;
    let body = sender.call(request, &[StatusCode::OK]).await?;
    let list: List = serde_json::from_slice(&body).context("decoding the list")?;
    Ok(list.metadata.resource_version)
}

/// A ConfigMap of about `payload` + 100 bytes of JSON, built by hand: it is on the hot path.
pub fn configmap(name: &str, payload: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}},"data":{{"payload":"{payload}"}}}}"#
    ))
}

/// A name prefix that differs between runs, so repeated runs never collide on names (it is a
/// valid DNS label start: lowercase hex).
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{:x}", nanos & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configmap_is_json_of_the_expected_size() {
        let payload = "x".repeat(1024);
        let body = configmap("c-1", &payload);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["metadata"]["name"], "c-1");
        assert_eq!(value["data"]["payload"].as_str().unwrap().len(), 1024);
        assert!(body.len() < 1024 + 120);
    }
}
