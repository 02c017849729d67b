//! `dns-responder`: the ceiling. A single-threaded UDP loop that answers every query with one
//! fixed A record and does nothing else; what it costs per query is the kernel's and the
//! socket's share, which no real server avoids.

use std::net::{SocketAddr, UdpSocket};

use anyhow::Result;

use super::wire;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    listen: SocketAddr,
}

pub fn run(args: Args) -> Result<()> {
    let sock = UdpSocket::bind(args.listen)?;
    println!("fixed-answer responder on {}", sock.local_addr()?);
    let (mut buf, mut out) = ([0u8; 1500], Vec::with_capacity(1500));
    loop {
        let (n, from) = sock.recv_from(&mut buf)?;
        if wire::fixed_answer(&buf[..n], &mut out).is_some() {
            // A full socket buffer drops the reply, like any UDP server under overload.
            let _ = sock.send_to(&out, from);
        }
    }
}
