//! Serving credentials, made on first start like k3s does: a CA, a serving certificate for the
//! listen address, an admin bearer token, and a kubeconfig that trusts the CA and carries the
//! token. Files live in `<data-dir>/pki/`; the kubeconfig at `<data-dir>/kubeconfig`.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use rand::Rng;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("certificate generation failed: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("bad PEM in {0}")]
    Pem(PathBuf),
}

/// The credentials of one data dir.
pub struct Credentials {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub token: String,
}

fn read(path: &Path) -> Result<Option<String>, TlsError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TlsError::Io {
            path: path.into(),
            source,
        }),
    }
}

/// Write via a temporary file and rename, so a crash never leaves half a key behind.
fn write_private(path: &Path, contents: &str) -> Result<(), TlsError> {
    let tmp = path.with_extension("tmp");
    let io_err = |source| TlsError::Io {
        path: path.into(),
        source,
    };
    std::fs::write(&tmp, contents).map_err(io_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(io_err)?;
    }
    std::fs::rename(&tmp, path).map_err(io_err)
}

/// The names a serving certificate must cover for `listen`.
fn subject_alt_names(listen: SocketAddr) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ip = listen.ip();
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    names
}

/// Load the data dir's credentials, creating whatever is missing. The serving certificate is
/// made anew when the listen address is not among its names.
pub fn ensure(data_dir: &Path, listen: SocketAddr) -> Result<Credentials, TlsError> {
    let pki = data_dir.join("pki");
    std::fs::create_dir_all(&pki).map_err(|source| TlsError::Io {
        path: pki.clone(),
        source,
    })?;
    let (ca_path, ca_key_path) = (pki.join("ca.crt"), pki.join("ca.key"));
    let (cert_path, key_path, sans_path) = (
        pki.join("apiserver.crt"),
        pki.join("apiserver.key"),
        pki.join("apiserver.sans"),
    );
    let token_path = pki.join("admin.token");

    let (ca_pem, ca_key_pem, ca_params) = match (read(&ca_path)?, read(&ca_key_path)?) {
        (Some(cert), Some(key)) => (cert, key, ca_params()),
        _ => {
            let key = KeyPair::generate()?;
            let params = ca_params();
            let cert = params.self_signed(&key)?;
            write_private(&ca_key_path, &key.serialize_pem())?;
            write_private(&ca_path, &cert.pem())?;
            let _ = std::fs::remove_file(&sans_path);
            (cert.pem(), key.serialize_pem(), params)
        }
    };
    let sans = subject_alt_names(listen).join(",");
    let (cert_pem, key_pem) = match (read(&cert_path)?, read(&key_path)?, read(&sans_path)?) {
        (Some(cert), Some(key), Some(stored)) if stored == sans => (cert, key),
        _ => {
            let ca_key = KeyPair::from_pem(&ca_key_pem)?;
            let issuer = Issuer::new(ca_params, ca_key);
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::new(subject_alt_names(listen))?;
            params
                .distinguished_name
                .push(DnType::CommonName, "svcplane-apiserver");
            let cert = params.signed_by(&key, &issuer)?;
            write_private(&key_path, &key.serialize_pem())?;
            write_private(&cert_path, &cert.pem())?;
            write_private(&sans_path, &sans)?;
            (cert.pem(), key.serialize_pem())
        }
    };
    let token = match read(&token_path)? {
        Some(t) if !t.trim().is_empty() => t.trim().to_string(),
        _ => {
            let bytes: [u8; 24] = rand::rng().random();
            let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            write_private(&token_path, &token)?;
            token
        }
    };
    Ok(Credentials {
        ca_pem,
        cert_pem,
        key_pem,
        token,
    })
}

/// The CA's parameters; the same on every start, so a stored CA key can sign with them.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
        .distinguished_name
        .push(DnType::CommonName, "svcplane-ca");
    params
}

/// A rustls server configuration offering HTTP/2 and HTTP/1.1.
pub fn server_config(creds: &Credentials) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(creds.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|_| TlsError::Pem("apiserver.crt".into()))?;
    let key = PrivateKeyDer::from_pem_slice(creds.key_pem.as_bytes())
        .map_err(|_| TlsError::Pem("apiserver.key".into()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The kubeconfig users point kubectl at. `creds` is `None` for a plain-HTTP server.
pub fn kubeconfig(server_url: &str, creds: Option<&Credentials>) -> String {
    let mut cluster = format!("    server: {server_url}\n");
    let mut user = "  user: {}\n".to_string();
    if let Some(c) = creds {
        let ca = base64::engine::general_purpose::STANDARD.encode(&c.ca_pem);
        cluster.push_str(&format!("    certificate-authority-data: {ca}\n"));
        user = format!("  user:\n    token: {}\n", c.token);
    }
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: svcplane\n  cluster:\n{cluster}users:\n- name: admin\n{user}contexts:\n- name: svcplane\n  context:\n    cluster: svcplane\n    user: admin\n    namespace: default\ncurrent-context: svcplane\npreferences: {{}}\n"
    )
}

pub fn write_kubeconfig(path: &Path, contents: &str) -> Result<(), TlsError> {
    write_private(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_persist_and_serve() {
        let dir = tempfile::tempdir().unwrap();
        let addr: SocketAddr = "127.0.0.1:6443".parse().unwrap();
        let first = ensure(dir.path(), addr).unwrap();
        let again = ensure(dir.path(), addr).unwrap();
        assert_eq!(first.ca_pem, again.ca_pem);
        assert_eq!(first.cert_pem, again.cert_pem);
        assert_eq!(first.token, again.token);
        server_config(&first).unwrap();
        let moved = ensure(dir.path(), "127.0.0.2:6443".parse().unwrap()).unwrap();
        assert_eq!(moved.ca_pem, first.ca_pem);
        assert_ne!(moved.cert_pem, first.cert_pem);
        let kc = kubeconfig("https://127.0.0.1:6443", Some(&first));
        assert!(kc.contains("certificate-authority-data:") && kc.contains(&first.token));
    }
}
