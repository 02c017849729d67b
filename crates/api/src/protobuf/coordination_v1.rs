//! `coordination.k8s.io/v1`: Lease.

use k8s_pb::api::coordination::v1 as pb;

use super::rules::{convert, keep, micro_time, msg, opt};
use crate::k8s::api::coordination::v1 as api;

convert! {
    pb::Lease => api::Lease {
        metadata: msg,
        spec: opt,
    }
}

convert! {
    pb::LeaseSpec => api::LeaseSpec {
        holder_identity: keep,
        lease_duration_seconds: keep,
        acquire_time: micro_time,
        renew_time: micro_time,
        lease_transitions: keep,
        strategy: keep,
        preferred_holder: keep,
    }
}
