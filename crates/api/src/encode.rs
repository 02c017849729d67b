//! JSON encoding of `serde_json::Value`s, byte for byte what `serde_json::to_vec` writes, but
//! faster on long strings: serde_json checks a string for characters to escape one byte at a
//! time, which made escaping a ConfigMap's 1 KiB value most of the cost of encoding it. Here a
//! string without any is checked in one vectorizable pass and copied whole; one with them is
//! left to serde_json.

use serde_json::Value;

/// `value` as compact JSON.
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write(&mut out, value);
    out
}

/// Appends `value` as compact JSON to `out`.
pub fn write(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => serde_json::to_writer(out, n).expect("numbers serialize"),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write(out, item);
            }
            out.push(b'}');
        }
    }
}

/// Appends `s` as a JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    // What serde_json escapes: the quote, the backslash and control characters. No early exit,
    // so that the compiler can check many bytes at once.
    let plain = !s.bytes().fold(false, |escape, b| {
        escape | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(out, s).expect("strings serialize");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_what_serde_json_writes() {
        let long = "x".repeat(1000);
        for value in [
            json!(null),
            json!(true),
            json!([false, 1, -2, 3.5, 1e300, u64::MAX, i64::MIN]),
            json!({}),
            json!([]),
            json!({"a": {"b": [1, {"c": "d"}]}, "e": "", "f": null}),
            json!({"quote\"key": "back\\slash", "ctl": "a\u{1}b\nc\td\u{1f}", "del": "\u{7f}"}),
            json!({"unicode": "héllo ✓ 😀", "long": long, "html": "</script>&<>"}),
        ] {
            assert_eq!(
                to_vec(&value),
                serde_json::to_vec(&value).unwrap(),
                "{value}"
            );
        }
    }
}
