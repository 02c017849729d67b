//! IP address checks as kube-apiserver 1.33 applies them to its "legacy" IP fields
//! (clusterIPs, externalIPs, endpoint addresses, ...).
//!
//! 1.33 ships StrictIPCIDRValidation disabled, so these fields are parsed "sloppily" like
//! Go's `netutils.ParseIPSloppy`: IPv4 octets may carry leading zeros and IPv4-mapped IPv6
//! addresses are accepted.

use std::net::{IpAddr, Ipv4Addr};

use super::Path;
use super::render::quote;
use crate::FieldError;

/// Parses like `netutils.ParseIPSloppy`. IPv4-mapped IPv6 addresses come back as IPv4,
/// which is how Go's `net.IP` methods (`To4`, `IsLoopback`, ...) treat them.
pub fn parse_ip_sloppy(s: &str) -> Option<IpAddr> {
    let ip = s
        .parse::<IpAddr>()
        .ok()
        .or_else(|| parse_ipv4_leading_zeros(s).map(IpAddr::V4))?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// Dotted-quad IPv4 whose octets may have leading zeros (read as decimal, as Go did).
fn parse_ipv4_leading_zeros(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// An IP address in a legacy field: one error when it does not parse.
pub fn validate_ip(path: &Path, value: &str) -> Vec<FieldError> {
    if parse_ip_sloppy(value).is_some() {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            path,
            quote(value),
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        )]
    }
}

/// Addresses that make no sense as endpoints or external IPs: unspecified, loopback and
/// link-local (often a node's metadata service).
pub fn validate_non_special_ip(path: &Path, value: &str) -> Vec<FieldError> {
    let Some(ip) = parse_ip_sloppy(value) else {
        return vec![FieldError::invalid(
            path,
            quote(value),
            "must be a valid IP address",
        )];
    };
    let v = quote(value);
    let mut errs = Vec::new();
    if ip.is_unspecified() {
        errs.push(FieldError::invalid(
            path,
            &v,
            &format!("may not be unspecified ({value})"),
        ));
    }
    if ip.is_loopback() {
        errs.push(FieldError::invalid(
            path,
            &v,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let (link_local_unicast, link_local_multicast) = match ip {
        IpAddr::V4(v4) => (v4.is_link_local(), v4.octets()[..3] == [224, 0, 0]),
        IpAddr::V6(v6) => {
            let seg0 = v6.segments()[0];
            (seg0 & 0xffc0 == 0xfe80, seg0 & 0xff0f == 0xff02)
        }
    };
    if link_local_unicast {
        errs.push(FieldError::invalid(
            path,
            &v,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if link_local_multicast {
        errs.push(FieldError::invalid(
            path,
            &v,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sloppy_parsing() {
        assert_eq!(
            parse_ip_sloppy("010.0.0.1"),
            Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
        );
        assert_eq!(
            parse_ip_sloppy("::ffff:1.2.3.4"),
            Some(IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)))
        );
        assert!(parse_ip_sloppy("2001:db8::1").is_some_and(|ip| ip.is_ipv6()));
        assert_eq!(parse_ip_sloppy("1.2.3"), None);
        assert_eq!(parse_ip_sloppy("1.2.3.256"), None);
        assert_eq!(parse_ip_sloppy("None"), None);
    }

    #[test]
    fn special_addresses() {
        let p = Path::new("ip");
        let msg = |ip: &str| -> Vec<String> {
            validate_non_special_ip(&p, ip)
                .into_iter()
                .map(|e| e.message)
                .collect()
        };
        assert!(msg("10.1.2.3").is_empty());
        assert_eq!(
            msg("127.0.0.1"),
            [
                "Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"
            ]
        );
        assert_eq!(
            msg("0.0.0.0"),
            ["Invalid value: \"0.0.0.0\": may not be unspecified (0.0.0.0)"]
        );
        assert_eq!(msg("fe80::1").len(), 1);
        assert_eq!(msg("224.0.0.5").len(), 1);
    }
}
