//! A fake upstream resolver on loopback, for tests of forwarding (this crate's and the
//! end-to-end tests'): tests must never reach a real resolver. Not used when serving.
//!
//! It answers every name with fixed data: `nx.*` is NXDOMAIN with an SOA, `big.*` has 100 A
//! records (too many for UDP, so TC and a TCP retry), PTR questions get `upstream.example.`,
//! and any other A question gets `192.0.2.1` with TTL 10.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

/// The address every plain A question gets.
pub const ANSWER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The target of every PTR question.
pub const PTR_TARGET: &str = "upstream.example.";

/// A running fake upstream; stops when dropped.
pub struct FakeUpstream {
    pub addr: SocketAddr,
    udp: Arc<AtomicUsize>,
    tcp: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

impl FakeUpstream {
    /// Starts on 127.0.0.1 with a free port (UDP and TCP on the same port).
    pub async fn start() -> Self {
        let udp_sock = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind loopback UDP");
        let addr = udp_sock.local_addr().expect("local addr");
        let tcp_sock = TcpListener::bind(addr).await.expect("bind loopback TCP");
        let (udp, tcp) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let udp_count = udp.clone();
        let udp_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, peer)) = udp_sock.recv_from(&mut buf).await {
                udp_count.fetch_add(1, Ordering::SeqCst);
                if let Some(reply) = reply(&buf[..n], Some(512)) {
                    let _ = udp_sock.send_to(&reply, peer).await;
                }
            }
        });
        let tcp_count = tcp.clone();
        let tcp_task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = tcp_sock.accept().await {
                tcp_count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut len = [0u8; 2];
                    if conn.read_exact(&mut len).await.is_err() {
                        return;
                    }
                    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
                    if conn.read_exact(&mut msg).await.is_err() {
                        return;
                    }
                    if let Some(reply) = reply(&msg, None) {
                        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                        framed.extend_from_slice(&reply);
                        let _ = conn.write_all(&framed).await;
                    }
                });
            }
        });
        Self {
            addr,
            udp,
            tcp,
            tasks: vec![udp_task, tcp_task],
        }
    }

    /// UDP queries received so far.
    pub fn udp_queries(&self) -> usize {
        self.udp.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn tcp_queries(&self) -> usize {
        self.tcp.load(Ordering::SeqCst)
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

fn reply(packet: &[u8], udp_limit: Option<usize>) -> Option<Vec<u8>> {
    let req = Message::from_vec(packet).ok()?;
    let q = req.queries.first()?.clone();
    let mut m = Message::response(req.metadata.id, req.metadata.op_code);
    m.metadata.recursion_desired = req.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.queries = req.queries.clone();
    let name = q.name().clone();
    let first = name.to_ascii().to_ascii_lowercase();
    if first.starts_with("nx.") {
        m.metadata.response_code = ResponseCode::NXDomain;
        let zone = Name::from_ascii("example.").ok()?;
        let soa = SOA::new(
            Name::from_ascii("ns.example.").ok()?,
            Name::from_ascii("hostmaster.example.").ok()?,
            1,
            7200,
            1800,
            86400,
            10,
        );
        m.authorities
            .push(Record::from_rdata(zone, 10, RData::SOA(soa)));
    } else if q.query_type() == RecordType::PTR {
        let target = Name::from_ascii(PTR_TARGET).ok()?;
        m.answers
            .push(Record::from_rdata(name, 10, RData::PTR(PTR(target))));
    } else if q.query_type() == RecordType::A {
        let count = if first.starts_with("big.") { 100 } else { 1 };
        for i in 0..count {
            let ip = if count == 1 {
                ANSWER_V4
            } else {
                Ipv4Addr::new(192, 0, 2, i + 1)
            };
            m.answers
                .push(Record::from_rdata(name.clone(), 10, RData::A(A(ip))));
        }
    }
    let bytes = m.to_vec().ok()?;
    match udp_limit {
        Some(limit) if bytes.len() > limit => {
            m.answers.clear();
            m.metadata.truncation = true;
            m.to_vec().ok()
        }
        _ => Some(bytes),
    }
}
