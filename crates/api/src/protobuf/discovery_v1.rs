//! `discovery.k8s.io/v1`: EndpointSlice.

use k8s_pb::api::discovery::v1 as pb;

use super::rules::{convert, keep, list, map, msg, opt, required, required_list};
use crate::k8s::api::discovery::v1 as api;

convert! {
    pb::EndpointSlice => api::EndpointSlice {
        metadata: msg,
        address_type: required,
        endpoints: required_list,
        ports: list,
    }
}

convert! {
    pb::Endpoint => api::Endpoint {
        addresses: required_list,
        conditions: opt,
        hostname: keep,
        target_ref: opt,
        deprecated_topology: map,
        node_name: keep,
        zone: keep,
        hints: opt,
    }
}

convert! {
    pb::EndpointConditions => api::EndpointConditions {
        ready: keep,
        serving: keep,
        terminating: keep,
    }
}

convert! {
    pb::EndpointHints => api::EndpointHints {
        for_zones: list,
        for_nodes: list,
    }
}

convert! {
    pb::ForZone => api::ForZone {
        name: required,
    }
}

convert! {
    pb::ForNode => api::ForNode {
        name: required,
    }
}

convert! {
    pb::EndpointPort => api::EndpointPort {
        name: keep,
        protocol: keep,
        port: keep,
        app_protocol: keep,
    }
}
