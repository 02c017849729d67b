//! Serving credentials, made on first start like k3s does: a CA, a serving certificate, an admin
//! bearer token, and a kubeconfig that trusts the CA and carries the token.
//!
//! The CA and the token are the cluster's ([`ensure_authority`], in the PKI dir, by default
//! `<data-dir>/pki/`); several replicas on one etcd point at one PKI dir, the way kube-apiserver
//! replicas share one CA and token file. The first to start creates them under an exclusive lock
//! on the dir, so replicas starting together agree on one CA; the others reuse it. Each replica
//! has its own serving certificate ([`ensure_serving`], in `<data-dir>/pki/`), signed by that CA
//! for its own names, so one kubeconfig verifies every replica.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::net::{IpAddr, SocketAddr};
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

/// The credentials one server runs with.
pub struct Credentials {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub token: String,
}

/// The cluster-wide part of the credentials, the same for every replica sharing a PKI dir.
pub struct Authority {
    pub ca_pem: String,
    ca_key_pem: String,
    pub token: String,
}

const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const TOKEN: &str = "admin.token";
const SERVING_CERT: &str = "apiserver.crt";
const SERVING_KEY: &str = "apiserver.key";
/// What the stored serving certificate was issued for: its names and the CA that signed it.
const SERVING_STAMP: &str = "apiserver.issued";
/// Held (flock) while a dir's files are read or made, by every process using the dir.
const LOCK: &str = "pki.lock";

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.into(),
        source,
    }
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

/// Write via a temporary file, synced, and a rename, so a crash never leaves half a key behind.
/// The temporary name is unique to this call: two processes writing the same path (two servers
/// on one data dir) never write into each other's temporary file.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), TlsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let nonce: u64 = rand::rng().random();
    let tmp = dir.join(format!(".{name}.{}.{nonce:016x}.tmp", std::process::id()));
    let written = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is durable once the directory is.
        #[cfg(unix)]
        File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io_error(path))
}

/// An exclusive lock on a PKI dir, released when dropped (or when the process dies).
struct DirLock(#[allow(dead_code)] File);

impl DirLock {
    fn acquire(dir: &Path) -> Result<DirLock, TlsError> {
        let path = dir.join(LOCK);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        file.lock().map_err(io_error(&path))?;
        Ok(DirLock(file))
    }
}

fn create_dir(dir: &Path) -> Result<(), TlsError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))
}

/// The names a serving certificate must cover: loopback and `localhost`, the listen address
/// unless unspecified, and `extra` (the advertise address, `--tls-san`s), without repeats.
pub fn subject_alt_names(listen: SocketAddr, extra: &[String]) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ip = listen.ip();
    let listen_name = (!ip.is_unspecified()).then(|| ip.to_string());
    for name in listen_name.into_iter().chain(extra.iter().cloned()) {
        // One spelling per IP, so `0:0::1` and `::1` are not two names.
        let name = name
            .parse::<IpAddr>()
            .map(|ip| ip.to_string())
            .unwrap_or(name);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The PKI dir's authority if it is complete. Its files are made once, each by a rename, the
/// CA key before the CA certificate: so a CA certificate read first is always followed by its
/// own key, never by one a crashed creator left before it.
fn load_authority(pki_dir: &Path) -> Result<Option<Authority>, TlsError> {
    let Some(ca_pem) = read(&pki_dir.join(CA_CERT))? else {
        return Ok(None);
    };
    let Some(ca_key_pem) = read(&pki_dir.join(CA_KEY))? else {
        return Ok(None);
    };
    let token = match read(&pki_dir.join(TOKEN))? {
        Some(t) if !t.trim().is_empty() => t.trim().to_string(),
        _ => return Ok(None),
    };
    Ok(Some(Authority {
        ca_pem,
        ca_key_pem,
        token,
    }))
}

/// Load the PKI dir's CA and admin token, creating what is missing. Replicas racing here
/// serialize on the dir's lock: the first creates, the others read what it made.
pub fn ensure_authority(pki_dir: &Path) -> Result<Authority, TlsError> {
    // A complete authority is only read, lock-free, so a PKI dir mounted read-only serves.
    if let Some(authority) = load_authority(pki_dir)? {
        return Ok(authority);
    }
    create_dir(pki_dir)?;
    let _lock = DirLock::acquire(pki_dir)?;
    let (ca_path, ca_key_path) = (pki_dir.join(CA_CERT), pki_dir.join(CA_KEY));
    let token_path = pki_dir.join(TOKEN);
    let (ca_pem, ca_key_pem) = match (read(&ca_path)?, read(&ca_key_path)?) {
        (Some(cert), Some(key)) => (cert, key),
        // Neither, or half of a pair a crash interrupted: nobody can have used half a pair.
        _ => {
            let key = KeyPair::generate()?;
            let cert = ca_params().self_signed(&key)?;
            write_private(&ca_key_path, &key.serialize_pem())?;
            write_private(&ca_path, &cert.pem())?;
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
    Ok(Authority {
        ca_pem,
        ca_key_pem,
        token,
    })
}

/// Load this server's serving certificate and key from `dir`, issuing them anew from
/// `authority` unless the stored ones were issued by it for exactly `names`.
pub fn ensure_serving(
    dir: &Path,
    authority: &Authority,
    names: &[String],
) -> Result<(String, String), TlsError> {
    create_dir(dir)?;
    let _lock = DirLock::acquire(dir)?;
    let (cert_path, key_path) = (dir.join(SERVING_CERT), dir.join(SERVING_KEY));
    let stamp_path = dir.join(SERVING_STAMP);
    let stamp = format!("{}\n{}", names.join(","), authority.ca_pem);
    if let (Some(cert), Some(key), Some(stored)) =
        (read(&cert_path)?, read(&key_path)?, read(&stamp_path)?)
        && stored == stamp
    {
        return Ok((cert, key));
    }
    let ca_key = KeyPair::from_pem(&authority.ca_key_pem)?;
    let issuer = Issuer::new(ca_params(), ca_key);
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "svcplane-apiserver");
    let cert = params.signed_by(&key, &issuer)?;
    // The stamp goes last: until it is written, a crash only costs a reissue.
    let _ = std::fs::remove_file(&stamp_path);
    // Earlier versions stamped the names alone, in this file.
    let _ = std::fs::remove_file(dir.join("apiserver.sans"));
    write_private(&key_path, &key.serialize_pem())?;
    write_private(&cert_path, &cert.pem())?;
    write_private(&stamp_path, &stamp)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The credentials of a server: the CA and token of `pki_dir`, and a serving certificate for
/// `names` kept in `serving_dir` (which may be `pki_dir` itself, as it is by default).
pub fn ensure(
    pki_dir: &Path,
    serving_dir: &Path,
    names: &[String],
) -> Result<Credentials, TlsError> {
    // The authority's lock is released before the serving dir's is taken: they may be one dir.
    let authority = ensure_authority(pki_dir)?;
    let (cert_pem, key_pem) = ensure_serving(serving_dir, &authority, names)?;
    Ok(Credentials {
        ca_pem: authority.ca_pem,
        cert_pem,
        key_pem,
        token: authority.token,
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
    use std::sync::Barrier;

    use rustls::client::danger::ServerCertVerifier as _;
    use rustls::pki_types::{ServerName, UnixTime};

    use super::*;

    fn names(listen: &str) -> Vec<String> {
        subject_alt_names(listen.parse().unwrap(), &[])
    }

    /// Whether a client trusting only `ca_pem` accepts `cert_pem` for `host`.
    fn verifies(ca_pem: &str, cert_pem: &str, host: &str) -> bool {
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(ca.unwrap()).unwrap();
        }
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        let host = ServerName::try_from(host.to_string()).unwrap();
        verifier
            .verify_server_cert(&cert, &[], &host, &[], UnixTime::now())
            .is_ok()
    }

    #[test]
    fn credentials_persist_and_serve() {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("pki");
        let first = ensure(&pki, &pki, &names("127.0.0.1:6443")).unwrap();
        let again = ensure(&pki, &pki, &names("127.0.0.1:6443")).unwrap();
        assert_eq!(first.ca_pem, again.ca_pem);
        assert_eq!(first.cert_pem, again.cert_pem);
        assert_eq!(first.token, again.token);
        server_config(&first).unwrap();
        assert!(verifies(&first.ca_pem, &first.cert_pem, "localhost"));
        assert!(verifies(&first.ca_pem, &first.cert_pem, "::1"));
        let moved = ensure(&pki, &pki, &names("127.0.0.2:6443")).unwrap();
        assert_eq!(moved.ca_pem, first.ca_pem);
        assert_ne!(moved.cert_pem, first.cert_pem);
        assert!(verifies(&first.ca_pem, &moved.cert_pem, "127.0.0.2"));
        assert!(!verifies(&first.ca_pem, &first.cert_pem, "127.0.0.2"));
        let kc = kubeconfig("https://127.0.0.1:6443", Some(&first));
        assert!(kc.contains("certificate-authority-data:") && kc.contains(&first.token));
    }

    #[test]
    fn names_cover_the_listen_and_extra_addresses_once() {
        let extra = [
            "192.0.2.10".to_string(),
            "api.example".into(),
            "0:0::1".into(),
        ];
        let sans = subject_alt_names("0.0.0.0:6443".parse().unwrap(), &extra);
        assert_eq!(
            sans,
            ["localhost", "127.0.0.1", "::1", "192.0.2.10", "api.example"]
        );
        let sans = subject_alt_names("192.0.2.10:6443".parse().unwrap(), &extra);
        assert_eq!(sans.iter().filter(|n| *n == "192.0.2.10").count(), 1);
    }

    /// Replicas starting at once on one PKI dir end up with one CA and one token, and each
    /// one's own serving certificate verifies under that CA.
    #[test]
    fn concurrent_initializers_agree_on_one_authority() {
        const REPLICAS: usize = 8;
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared-pki");
        let start = Barrier::new(REPLICAS);
        let made: Vec<(Credentials, String)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..REPLICAS)
                .map(|i| {
                    let (shared, start) = (&shared, &start);
                    let own = dir.path().join(format!("replica-{i}"));
                    scope.spawn(move || {
                        let ip = format!("127.0.0.{}", i + 2);
                        start.wait();
                        let creds = ensure(shared, &own, &names(&format!("{ip}:6443"))).unwrap();
                        (creds, ip)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let (first, _) = &made[0];
        for (creds, ip) in &made {
            assert_eq!(creds.ca_pem, first.ca_pem, "one CA");
            assert_eq!(creds.token, first.token, "one token");
            assert!(verifies(&first.ca_pem, &creds.cert_pem, ip));
            assert!(verifies(&first.ca_pem, &creds.cert_pem, "localhost"));
        }
        let on_disk = ensure_authority(&shared).unwrap();
        assert_eq!(on_disk.ca_pem, first.ca_pem);
        assert_eq!(on_disk.token, first.token);
        // Nothing half-written is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&shared)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    /// A complete PKI dir is only read: a copy without its lock file, mounted read-only, serves.
    #[test]
    fn a_complete_authority_is_read_without_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("pki");
        let made = ensure_authority(&pki).unwrap();
        std::fs::remove_file(pki.join(LOCK)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&pki, std::fs::Permissions::from_mode(0o555)).unwrap();
        }
        let read = ensure_authority(&pki);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&pki, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let read = read.unwrap();
        assert_eq!(read.ca_pem, made.ca_pem);
        assert_eq!(read.token, made.token);
        assert!(!pki.join(LOCK).exists(), "the lock was taken");
        // Half a CA (a crash between its two files) is made anew, under the lock.
        std::fs::remove_file(pki.join(CA_CERT)).unwrap();
        let remade = ensure_authority(&pki).unwrap();
        assert_ne!(remade.ca_pem, made.ca_pem);
        assert_eq!(remade.token, made.token);
        assert!(pki.join(LOCK).exists());
    }

    /// A server on another PKI dir is not trusted by the shared CA; a serving certificate kept
    /// from an old CA is reissued by the current one.
    #[test]
    fn another_authority_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, other) = (dir.path().join("shared"), dir.path().join("other"));
        let serving = dir.path().join("serving");
        let sans = names("127.0.0.1:6443");
        let trusted = ensure(&shared, &serving, &sans).unwrap();
        let stranger = ensure(&other, &other, &sans).unwrap();
        assert_ne!(stranger.ca_pem, trusted.ca_pem);
        assert_ne!(stranger.token, trusted.token);
        assert!(!verifies(&trusted.ca_pem, &stranger.cert_pem, "127.0.0.1"));
        let moved = ensure(&other, &serving, &sans).unwrap();
        assert_ne!(moved.cert_pem, trusted.cert_pem);
        assert!(verifies(&stranger.ca_pem, &moved.cert_pem, "127.0.0.1"));
    }
}
