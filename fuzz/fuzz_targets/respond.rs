//! Arbitrary bytes through the DNS respond path over the fixture cluster: it must never panic,
//! and the pre-encoded answer cache must reply byte for byte like the general path. The first
//! byte picks the transport and rotation, the rest is the packet (see `dns::fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dns::fuzzing::respond(data));
