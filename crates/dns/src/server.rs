//! UDP and TCP serving of the current [`ZoneView`] snapshot. The watcher publishes snapshots
//! through a tokio `watch` channel; each query borrows the latest one (an `Arc` clone), so a
//! new snapshot applies to the next packet without locking readers out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;

use crate::error::Result;
use crate::wire::{Transport, respond};
use crate::zone::ZoneView;

/// Largest UDP datagram we read; bigger queries are not meaningful.
const MAX_UDP_QUERY: usize = 4096;
/// A TCP connection idle this long is closed (RFC 7766 suggests seconds, not minutes).
const TCP_IDLE: Duration = Duration::from_secs(10);

/// A bound DNS server; call [`Server::run`] to serve.
pub struct Server {
    udp: UdpSocket,
    tcp: TcpListener,
    view: watch::Receiver<Arc<ZoneView>>,
    rotation: Arc<AtomicUsize>,
}

impl Server {
    /// Binds UDP on `addr` and TCP on the same address and port (port 0 picks one for both).
    pub async fn bind(addr: SocketAddr, view: watch::Receiver<Arc<ZoneView>>) -> Result<Self> {
        let udp = UdpSocket::bind(addr).await?;
        let tcp = TcpListener::bind(udp.local_addr()?).await?;
        Ok(Self {
            udp,
            tcp,
            view,
            rotation: Arc::new(AtomicUsize::new(0)),
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
            view,
            rotation,
        } = self;
        let udp_loop = serve_udp(udp, view.clone(), rotation.clone());
        let tcp_loop = serve_tcp(tcp, view, rotation);
        tokio::select! {
            r = udp_loop => r,
            r = tcp_loop => r,
            () = shutdown => Ok(()),
        }
    }
}

fn snapshot(view: &watch::Receiver<Arc<ZoneView>>) -> Arc<ZoneView> {
    view.borrow().clone()
}

async fn serve_udp(
    sock: UdpSocket,
    view: watch::Receiver<Arc<ZoneView>>,
    rotation: Arc<AtomicUsize>,
) -> Result<()> {
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
        let rot = rotation.fetch_add(1, Ordering::Relaxed);
        if let Some(reply) = respond(&snapshot(&view), &buf[..len], Transport::Udp, rot)
            && let Err(err) = sock.send_to(&reply, peer).await
        {
            tracing::debug!(%err, %peer, "udp send");
        }
    }
}

async fn serve_tcp(
    listener: TcpListener,
    view: watch::Receiver<Arc<ZoneView>>,
    rotation: Arc<AtomicUsize>,
) -> Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let (view, rotation) = (view.clone(), rotation.clone());
        tokio::spawn(async move {
            if let Err(err) = serve_conn(stream, view, rotation).await {
                tracing::debug!(%err, %peer, "tcp connection");
            }
        });
    }
}

/// RFC 1035 §4.2.2 framing: a 2-byte length before each message; several queries may share
/// a connection.
async fn serve_conn(
    mut stream: TcpStream,
    view: watch::Receiver<Arc<ZoneView>>,
    rotation: Arc<AtomicUsize>,
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
        let rot = rotation.fetch_add(1, Ordering::Relaxed);
        let Some(reply) = respond(&snapshot(&view), &msg, Transport::Tcp, rot) else {
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
}
