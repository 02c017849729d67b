//! UDP and TCP serving of the current [`ZoneView`] snapshot. The watcher publishes snapshots
//! through a tokio `watch` channel; each query borrows the latest one (an `Arc` clone), so a
//! new snapshot applies to the next packet without locking readers out.
//!
//! Zone answers are computed inline (they are pure and fast); queries that need an upstream
//! run in their own task so a slow resolver never holds up the UDP loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::forward::Forwarder;
use crate::metrics::{Metrics, Observation};
use crate::wire::{Pending, Step, Transport, process};
use crate::zone::ZoneView;

/// Largest UDP datagram we read; bigger queries are not meaningful.
const MAX_UDP_QUERY: usize = 4096;
/// A TCP connection idle this long is closed (RFC 7766 suggests seconds, not minutes).
const TCP_IDLE: Duration = Duration::from_secs(10);

/// What every listener shares: the snapshot channel, the rotation counter, the forwarder and
/// the metrics.
pub struct Handler {
    view: watch::Receiver<Arc<ZoneView>>,
    rotation: AtomicUsize,
    forwarder: Option<Arc<Forwarder>>,
    metrics: Option<Arc<Metrics>>,
}

impl Handler {
    /// Answers from the zone only: out-of-zone names are REFUSED.
    pub fn new(view: watch::Receiver<Arc<ZoneView>>) -> Self {
        Self {
            view,
            rotation: AtomicUsize::new(0),
            forwarder: None,
            metrics: None,
        }
    }

    /// Sends out-of-zone names, fallthrough misses and ExternalName targets to `forwarder`.
    /// A forwarder without upstreams is the same as none (REFUSED).
    pub fn with_forwarder(mut self, forwarder: Arc<Forwarder>) -> Self {
        self.forwarder = (!forwarder.upstreams().is_empty()).then_some(forwarder);
        self
    }

    /// Counts every query in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn snapshot(&self) -> Arc<ZoneView> {
        self.view.borrow().clone()
    }

    /// The local step for one packet.
    fn step(
        &self,
        packet: &[u8],
        transport: Transport,
    ) -> Option<(Option<hickory_proto::rr::RecordType>, Step)> {
        let rot = self.rotation.fetch_add(1, Ordering::Relaxed);
        let p = process(&self.snapshot(), packet, transport, rot)?;
        Some((p.qtype, p.step))
    }

    async fn finish(&self, pending: Box<Pending>) -> Option<Vec<u8>> {
        let Some(forwarder) = &self.forwarder else {
            return pending.local();
        };
        match forwarder.resolve(pending.question()).await {
            Ok(up) => pending.answered(up),
            Err(err) => {
                tracing::debug!(%err, "forwarding failed");
                pending.failed()
            }
        }
    }

    fn observe(
        &self,
        server: &str,
        transport: Transport,
        peer: SocketAddr,
        qtype: Option<hickory_proto::rr::RecordType>,
        reply: Option<&[u8]>,
        started: Instant,
    ) {
        if let Some(m) = &self.metrics {
            m.observe(&Observation {
                server,
                transport,
                family: if peer.is_ipv4() { 1 } else { 2 },
                qtype,
                // The low 4 bits of the header's 4th byte; BADVERS's upper bits live in the OPT.
                rcode: reply.and_then(|r| r.get(3)).map(|b| b & 0x0f),
                elapsed: started.elapsed(),
            });
        }
    }
}

/// A bound DNS server; call [`Server::run`] to serve.
pub struct Server {
    udp: Arc<UdpSocket>,
    tcp: TcpListener,
    handler: Arc<Handler>,
    /// `dns://<addr>`, the metrics' `server` label.
    label: Arc<str>,
}

/// How often a port-0 bind looks for a number free for both UDP and TCP.
const PORT_ZERO_ATTEMPTS: usize = 16;

/// UDP and TCP sockets on one address and port. Port 0 picks a free UDP port; TCP may already
/// hold that number, so a few are tried.
pub fn bind_sockets(addr: SocketAddr) -> Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let attempts = if addr.port() == 0 {
        PORT_ZERO_ATTEMPTS
    } else {
        1
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let udp = std::net::UdpSocket::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        let local = udp.local_addr()?;
        match std::net::TcpListener::bind(local) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempt < attempts => continue,
            Err(source) => {
                return Err(Error::Bind {
                    addr: local,
                    source,
                });
            }
        }
    }
}

impl Server {
    /// Binds UDP on `addr` and TCP on the same address and port (port 0 picks one for both),
    /// answering from the zone alone.
    pub async fn bind(addr: SocketAddr, view: watch::Receiver<Arc<ZoneView>>) -> Result<Self> {
        Self::bind_with(addr, Arc::new(Handler::new(view))).await
    }

    /// Like [`Server::bind`], with a shared [`Handler`] (forwarding, metrics).
    pub async fn bind_with(addr: SocketAddr, handler: Arc<Handler>) -> Result<Self> {
        let (udp, tcp) = bind_sockets(addr)?;
        Self::from_std(udp, tcp, handler)
    }

    /// Wraps sockets bound elsewhere (e.g. all listeners bound before anything starts).
    pub fn from_std(
        udp: std::net::UdpSocket,
        tcp: std::net::TcpListener,
        handler: Arc<Handler>,
    ) -> Result<Self> {
        udp.set_nonblocking(true)?;
        tcp.set_nonblocking(true)?;
        let udp = UdpSocket::from_std(udp)?;
        let tcp = TcpListener::from_std(tcp)?;
        let local = udp.local_addr()?;
        Ok(Self {
            udp: Arc::new(udp),
            tcp,
            handler,
            label: format!("dns://{local}").into(),
        })
    }

    /// The address both sockets listen on.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.udp.local_addr()?)
    }

    /// Serves until `shutdown` completes. Errors on single packets or connections are logged
    /// and never stop the server.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let Self {
            udp,
            tcp,
            handler,
            label,
        } = self;
        let udp_loop = serve_udp(udp, handler.clone(), label.clone());
        let tcp_loop = serve_tcp(tcp, handler, label);
        tokio::select! {
            r = udp_loop => r,
            r = tcp_loop => r,
            () = shutdown => Ok(()),
        }
    }
}

async fn serve_udp(sock: Arc<UdpSocket>, handler: Arc<Handler>, label: Arc<str>) -> Result<()> {
    let mut buf = vec![0u8; MAX_UDP_QUERY];
    loop {
        let (len, peer) = match sock.recv_from(&mut buf).await {
            Ok(v) => v,
            // ICMP errors from earlier sends surface here on some platforms; keep serving.
            Err(err) => {
                tracing::debug!(%err, "udp recv");
                continue;
            }
        };
        let started = Instant::now();
        let Some((qtype, step)) = handler.step(&buf[..len], Transport::Udp) else {
            handler.observe(&label, Transport::Udp, peer, None, None, started);
            continue;
        };
        match step {
            Step::Reply(reply) => {
                handler.observe(&label, Transport::Udp, peer, qtype, Some(&reply), started);
                if let Err(err) = sock.send_to(&reply, peer).await {
                    tracing::debug!(%err, %peer, "udp send");
                }
            }
            Step::Upstream(pending) => {
                let (sock, handler, label) = (sock.clone(), handler.clone(), label.clone());
                tokio::spawn(async move {
                    let reply = handler.finish(pending).await;
                    handler.observe(
                        &label,
                        Transport::Udp,
                        peer,
                        qtype,
                        reply.as_deref(),
                        started,
                    );
                    if let Some(reply) = reply
                        && let Err(err) = sock.send_to(&reply, peer).await
                    {
                        tracing::debug!(%err, %peer, "udp send");
                    }
                });
            }
        }
    }
}

async fn serve_tcp(listener: TcpListener, handler: Arc<Handler>, label: Arc<str>) -> Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let (handler, label) = (handler.clone(), label.clone());
        tokio::spawn(async move {
            if let Err(err) = serve_conn(stream, peer, handler, label).await {
                tracing::debug!(%err, %peer, "tcp connection");
            }
        });
    }
}

/// RFC 1035 §4.2.2 framing: a 2-byte length before each message; several queries may share
/// a connection.
async fn serve_conn(
    mut stream: TcpStream,
    peer: SocketAddr,
    handler: Arc<Handler>,
    label: Arc<str>,
) -> Result<()> {
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            // EOF, error or idle: close quietly.
            _ => return Ok(()),
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut msg))
            .await
            .is_err()
        {
            return Ok(());
        }
        let started = Instant::now();
        let (qtype, reply) = match handler.step(&msg, Transport::Tcp) {
            None => (None, None),
            Some((qtype, Step::Reply(reply))) => (qtype, Some(reply)),
            Some((qtype, Step::Upstream(pending))) => (qtype, handler.finish(pending).await),
        };
        handler.observe(
            &label,
            Transport::Tcp,
            peer,
            qtype,
            reply.as_deref(),
            started,
        );
        let Some(reply) = reply else {
            return Ok(());
        };
        // `respond` keeps TCP replies within 65535 bytes, so the length always fits.
        let Ok(n) = u16::try_from(reply.len()) else {
            return Ok(());
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&n.to_be_bytes());
        framed.extend_from_slice(&reply);
        stream.write_all(&framed).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::fixtures;
    use crate::wire::query_packet;
    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::RecordType;

    async fn udp_ask(server: SocketAddr, qname: &str) -> Message {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let q = query_packet(42, qname, RecordType::A, None).unwrap();
        sock.send_to(&q, server).await.unwrap();
        let mut buf = vec![0u8; 2048];
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
            .await
            .expect("reply in time")
            .unwrap();
        Message::from_vec(&buf[..n]).unwrap()
    }

    #[tokio::test]
    async fn serves_udp_and_tcp_and_follows_new_snapshots() {
        let (tx, rx) = watch::channel(Arc::new(fixtures::view(&Config::default())));
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), rx)
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stop_rx.await;
        }));

        let m = udp_ask(addr, "web.demo.svc.cluster.local.").await;
        assert_eq!(m.metadata.id, 42);
        assert_eq!(m.answers.len(), 1);

        // TCP, two queries on one connection.
        let mut conn = TcpStream::connect(addr).await.unwrap();
        for qname in [
            "nginx.demo.svc.cluster.local.",
            "nope.demo.svc.cluster.local.",
        ] {
            let q = query_packet(7, qname, RecordType::A, None).unwrap();
            let mut framed = (q.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&q);
            conn.write_all(&framed).await.unwrap();
            let mut len = [0u8; 2];
            conn.read_exact(&mut len).await.unwrap();
            let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
            conn.read_exact(&mut body).await.unwrap();
            let m = Message::from_vec(&body).unwrap();
            if qname.starts_with("nope") {
                assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
            } else {
                assert_eq!(m.answers.len(), 2);
            }
        }

        // A new snapshot without the Service answers NXDOMAIN for it.
        let mut next = fixtures::view(&Config::default());
        next.delete_service("demo", "web");
        tx.send(Arc::new(next)).unwrap();
        let m = udp_ask(addr, "web.demo.svc.cluster.local.").await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);

        stop_tx.send(()).unwrap();
        task.await.unwrap().unwrap();
    }

    async fn udp_ask_type(server: SocketAddr, qname: &str, qtype: RecordType) -> Message {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let q = query_packet(9, qname, qtype, None).unwrap();
        sock.send_to(&q, server).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
            .await
            .expect("reply in time")
            .unwrap();
        Message::from_vec(&buf[..n]).unwrap()
    }

    #[tokio::test]
    async fn forwards_out_of_zone_fallthrough_and_external_names() {
        use crate::testing::{ANSWER_V4, FakeUpstream, PTR_TARGET};
        let up = FakeUpstream::start().await;
        let (_tx, rx) = watch::channel(Arc::new(fixtures::view(&Config::default())));
        let metrics = Arc::new(Metrics::new());
        let handler = Handler::new(rx)
            .with_forwarder(Arc::new(Forwarder::new(vec![up.addr])))
            .with_metrics(metrics.clone());
        let server = Server::bind_with("127.0.0.1:0".parse().unwrap(), Arc::new(handler))
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stop_rx.await;
        }));

        // Out of zone: the upstream's answer, RA=1, AA=0.
        let m = udp_ask_type(addr, "one.example.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.recursion_available && !m.metadata.authoritative);
        assert_eq!(
            m.answers[0].data,
            hickory_proto::rr::RData::A(ANSWER_V4.into())
        );
        // Too big for UDP upstream: the forwarder retried over TCP, the client gets TC.
        let m = udp_ask_type(addr, "big.example.", RecordType::A).await;
        assert!(m.metadata.truncation);
        assert_eq!(up.tcp_queries(), 1);
        // A reverse miss falls through to the upstream; a hit stays local.
        let m = udp_ask_type(addr, "1.2.0.192.in-addr.arpa.", RecordType::PTR).await;
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].data.to_string(), PTR_TARGET);
        let m = udp_ask_type(addr, "10.1.96.10.in-addr.arpa.", RecordType::PTR).await;
        assert!(m.metadata.authoritative);
        assert_eq!(m.answers[0].data.to_string(), "web.demo.svc.cluster.local.");
        // ExternalName out of zone: CNAME first, then the upstream's address.
        let m = udp_ask_type(addr, "ext.demo.svc.cluster.local.", RecordType::A).await;
        let types: Vec<RecordType> = m.answers.iter().map(|r| r.record_type()).collect();
        assert_eq!(types, [RecordType::CNAME, RecordType::A]);
        // Cluster misses outside fallthrough zones stay NXDOMAIN, locally.
        let before = up.udp_queries();
        let m = udp_ask_type(addr, "nope.demo.svc.cluster.local.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(up.udp_queries(), before);

        let text = metrics.render();
        assert!(text.contains("rcode=\"NXDOMAIN\""), "{text}");
        assert!(text.contains("type=\"PTR\""), "{text}");

        stop_tx.send(()).unwrap();
        task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn without_upstream_out_of_zone_is_refused() {
        let (_tx, rx) = watch::channel(Arc::new(fixtures::view(&Config::default())));
        let handler = Handler::new(rx).with_forwarder(Arc::new(Forwarder::new(Vec::new())));
        let server = Server::bind_with("127.0.0.1:0".parse().unwrap(), Arc::new(handler))
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let task = tokio::spawn(server.run(std::future::pending()));
        let m = udp_ask_type(addr, "one.example.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        task.abort();
    }
}
