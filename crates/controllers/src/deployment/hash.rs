//! The `pod-template-hash` of a Deployment's pod template, as Kubernetes' `ComputeHash`:
//! FNV-32a over the template (plus the collision count, little-endian), printed in decimal and
//! then mapped through `rand.SafeEncodeString`'s alphabet so it never spells words.
//!
//! Upstream hashes Go's `%#v` dump of the struct, which Rust cannot reproduce; we hash the
//! template's canonical JSON instead (k8s-openapi serialises fields in a fixed order and maps
//! sorted). The result is stable across restarts and processes, which is what matters.

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// Label carried by the ReplicaSets (and pods) of a Deployment.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a, 32 bits.
pub fn fnv32a(chunks: &[&[u8]]) -> u32 {
    fnv32a_from(0x811c_9dc5, chunks)
}

/// FNV-1a continued from the state `h` a previous call returned.
fn fnv32a_from(mut h: u32, chunks: &[&[u8]]) -> u32 {
    for chunk in chunks {
        for b in *chunk {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// `rand.SafeEncodeString`: every character mapped into a vowel-free alphabet.
pub fn safe_encode(s: &str) -> String {
    s.chars()
        .map(|c| ALPHANUMS[(c as usize) % ALPHANUMS.len()] as char)
        .collect()
}

/// The hash of `template` with `collision_count` mixed in when set.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    hash_from(template_fnv(template), collision_count)
}

/// FNV-32a of the template's canonical JSON. The controllers cache this rather than the
/// template: FNV is a stream, so [`hash_from`] can mix the collision count in afterwards.
pub fn template_fnv(template: &PodTemplateSpec) -> u32 {
    // Serialising a k8s-openapi value cannot fail (no non-string map keys).
    fnv32a(&[&serde_json::to_vec(template).unwrap_or_default()])
}

/// [`compute_hash`] of the template whose [`template_fnv`] is `template_fnv`.
pub fn hash_from(template_fnv: u32, collision_count: Option<i32>) -> String {
    let hash = match collision_count {
        Some(c) => fnv32a_from(template_fnv, &[&(c as u32).to_le_bytes()]),
        None => template_fnv,
    };
    safe_encode(&hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv32a_matches_reference_vectors() {
        let cases: [(&str, u32); 3] = [("", 0x811c9dc5), ("a", 0xe40c292c), ("foobar", 0xbf9cf968)];
        for (input, want) in cases {
            assert_eq!(fnv32a(&[input.as_bytes()]), want, "{input:?}");
        }
    }

    #[test]
    fn safe_encode_maps_digits_like_upstream() {
        // '0' is 48: 48 % 27 = 21 → '4'; '9' is 57: 57 % 27 = 3 → 'f'.
        assert_eq!(safe_encode("0"), "4");
        assert_eq!(safe_encode("9"), "f");
        assert_eq!(safe_encode("123"), "567");
    }

    #[test]
    fn hash_is_stable_and_changes_with_the_template_or_collisions() {
        let t: PodTemplateSpec = serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"run": "my-nginx"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}
        }))
        .unwrap();
        let h = compute_hash(&t, None);
        assert_eq!(h, compute_hash(&t.clone(), None));
        assert!(h.chars().all(|c| ALPHANUMS.contains(&(c as u8))), "{h}");
        assert!(!h.is_empty() && h.len() <= 10);
        assert_ne!(h, compute_hash(&t, Some(1)));
        let mut t2 = t.clone();
        t2.metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert("v".into(), "2".into());
        assert_ne!(h, compute_hash(&t2, None));
    }

    /// Continuing from the cached FNV state names ReplicaSets exactly as hashing the template
    /// and the collision count in one stream did, so existing ReplicaSets keep their names.
    #[test]
    fn hash_from_the_cached_state_matches_one_stream() {
        let t: PodTemplateSpec = serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}
        }))
        .unwrap();
        let json = serde_json::to_vec(&t).unwrap();
        for count in [None, Some(0), Some(1), Some(7), Some(i32::MAX)] {
            let one_stream = match count {
                Some(c) => fnv32a(&[&json, &(c as u32).to_le_bytes()]),
                None => fnv32a(&[&json]),
            };
            assert_eq!(
                compute_hash(&t, count),
                safe_encode(&one_stream.to_string()),
                "{count:?}"
            );
            assert_eq!(hash_from(template_fnv(&t), count), compute_hash(&t, count));
        }
    }
}
