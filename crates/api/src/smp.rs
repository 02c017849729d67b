//! Strategic merge patch (`application/strategic-merge-patch+json`), the patch type of
//! `kubectl apply` (client-side), `kubectl edit` and `kubectl patch`, with the semantics of
//! k8s.io/apimachinery `strategicpatch` as kube-apiserver applies it.
//!
//! * Maps merge recursively; `null` deletes a key.
//! * Lists follow the field's strategy from [`schema`]: merged element-wise by a merge key
//!   (containers by `name`, container ports by `containerPort`, Service ports by `port`,
//!   conditions by `type`, ...), unioned (`finalizers`), or else replaced wholesale.
//! * Directives: `$patch: replace | delete | merge` on a map or as a list element,
//!   `$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`. They never
//!   appear in the result.
//!
//! Errors: a patch that is not a JSON object, or a directive of the wrong shape (a
//! `$setElementOrder`, `$retainKeys` or `$deleteFromPrimitiveList` value that is not a list, a
//! key outside `$retainKeys`) is [`PatchError::Malformed`] (Kubernetes answers 400); a patch
//! that is well-formed but cannot apply (an unknown `$patch` value, an element without its
//! merge key, a `$setElementOrder` that contradicts its list, an unknown `$` directive) is
//! [`PatchError::Invalid`].
//!
//! Where this deliberately differs from Kubernetes: `$patch: delete` on a nested map removes
//! the key (Kubernetes leaves `{}`); `$patch: merge` is accepted as the default it names
//! (Kubernetes rejects it); an unknown kind gets plain JSON merge semantics (Kubernetes refuses
//! strategic merge for kinds without Go types); a list new to the object is still merged by
//! key, so duplicate keys in it collapse.
//!
//! Pure: no IO.

mod list;
mod schema;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

use crate::error::PatchError;
use schema::{Field, Type};

type Result<T, E = PatchError> = std::result::Result<T, E>;

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Apply a strategic-merge patch (application/strategic-merge-patch+json) to an object of
/// `kind` (e.g. "Deployment", "Service", "Pod"). A kind without a strategic-merge schema is
/// patched with plain JSON merge semantics (maps merge, lists are replaced).
pub fn strategic_merge_patch(
    kind: &str,
    original: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::Malformed(format!(
            "invalid JSON document: a strategic merge patch must be a JSON object, not {}",
            json_type(patch)
        )));
    };
    let original = match original {
        Value::Object(map) => Some(map.clone()),
        Value::Null => None,
        other => {
            return Err(PatchError::Malformed(format!(
                "the object to patch must be a JSON object, not {}",
                json_type(other)
            )));
        }
    };
    // `$patch: delete` at the top leaves an empty object, as in Kubernetes.
    let merged = merge_map(original, patch.clone(), schema::for_kind(kind))?;
    Ok(Value::Object(merged.unwrap_or_default()))
}

/// The values of a `$patch` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Replace,
    Delete,
    Merge,
}

impl Directive {
    /// Parses the `$patch` value found in `map` (quoted in the error, as Kubernetes does).
    fn parse(value: &Value, map: &Map<String, Value>) -> Result<Self> {
        match value.as_str() {
            Some("replace") => Ok(Directive::Replace),
            Some("delete") => Ok(Directive::Delete),
            Some("merge") => Ok(Directive::Merge),
            _ => Err(PatchError::Invalid(format!(
                "unknown patch type: {} in map: {}",
                value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string),
                Value::Object(map.clone())
            ))),
        }
    }
}

/// Whether a list element is a `$patch` marker rather than data. An element that carries
/// data besides `$patch: merge` is data (the directive only restates the default).
fn is_marker(item: &Value) -> bool {
    let Some(map) = item.as_object() else {
        return false;
    };
    match map.get(PATCH) {
        None => false,
        Some(directive) => directive.as_str() != Some("merge") || map.len() == 1,
    }
}

/// Merges a patch map into the original map of a value of type `ty` (`None`: the original
/// has no such map). Returns `None` when the map is to be removed (`$patch: delete`).
fn merge_map(
    original: Option<Map<String, Value>>,
    mut patch: Map<String, Value>,
    ty: Type,
) -> Result<Option<Map<String, Value>>> {
    if let Some(value) = patch.get(PATCH) {
        let directive = Directive::parse(value, &patch)?;
        patch.remove(PATCH);
        match directive {
            Directive::Delete => return Ok(None),
            // The patch becomes the map; merging it into nothing resolves its own directives.
            Directive::Replace => return merge_map(None, patch, ty),
            Directive::Merge => {}
        }
    }
    let mut original = original.unwrap_or_default();
    retain_keys(&mut original, &mut patch)?;
    set_element_orders(&mut original, &mut patch, ty)?;
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            list::delete_from(original.get_mut(list), value)?;
            continue;
        }
        if key.starts_with('$') {
            return Err(PatchError::Invalid(format!(
                "unknown patch directive {key:?}"
            )));
        }
        let field = schema::field(ty, &key);
        if let Some(merged) = merge_value(original.remove(&key), value, field)? {
            original.insert(key, merged);
        }
    }
    Ok(Some(original))
}

/// Merges the patch value of one field into its original value (`None`: absent). Returns
/// `None` when the field is to be absent from the result.
fn merge_value(original: Option<Value>, patch: Value, field: Field) -> Result<Option<Value>> {
    match patch {
        Value::Null => Ok(None),
        Value::Object(patch) => {
            let original = match original {
                Some(Value::Object(map)) => Some(map),
                _ => None,
            };
            Ok(merge_map(original, patch, field.ty)?.map(Value::Object))
        }
        Value::Array(patch) => {
            let merged = match original {
                Some(Value::Array(original)) => list::merge(original, patch, field)?,
                // A list the object does not have (or has as another type) is taken from the
                // patch as it stands, as Kubernetes does.
                _ => list::clean(patch, field)?,
            };
            Ok(Some(Value::Array(merged)))
        }
        scalar => Ok(Some(scalar)),
    }
}

/// `$retainKeys`: keys of the original that are not listed are cleared (a discriminated union
/// such as a Deployment's `strategy` switching type), and the patch may only set listed keys.
fn retain_keys(original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> Result<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let malformed = || PatchError::Malformed("invalid patch format of retainKeys".into());
    let Value::Array(retain) = retain else {
        return Err(malformed());
    };
    let retained = |key: &str| retain.iter().any(|r| r.as_str() == Some(key));
    let directive = |key: &str| {
        key.starts_with(SET_ELEMENT_ORDER) || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
    };
    let stray = patch
        .iter()
        .any(|(k, v)| !v.is_null() && !directive(k) && !retained(k));
    if stray {
        return Err(malformed());
    }
    original.retain(|key, _| retained(key));
    Ok(())
}

/// Handles every `$setElementOrder/<list>` of a map together with its list, which is then
/// taken out of the patch so it is not merged a second time.
fn set_element_orders(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: Type,
) -> Result<()> {
    let directives: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive in directives {
        let order = patch.remove(&directive).unwrap_or_default();
        let name = &directive[SET_ELEMENT_ORDER.len()..];
        let field = schema::field(ty, name);
        // An original value that is not a list is left alone unless the patch replaces it.
        let current = match original.get(name) {
            Some(Value::Array(_)) => original.remove(name),
            _ => None,
        };
        let ordered = list::set_element_order(current, patch.remove(name), order, field)?;
        if let Some(items) = ordered {
            original.insert(name.to_string(), Value::Array(items));
        }
    }
    Ok(())
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
