//! Lists in a strategic merge: element-wise merge by key, set union of scalars, `$patch`
//! marker elements, `$setElementOrder` and `$deleteFromPrimitiveList`, and the element order
//! of the result.

use serde_json::{Map, Value};

use super::schema::{Field, Strategy};
use super::{Directive, PATCH, Result, is_marker, merge_map, merge_value};
use crate::error::PatchError;

/// How elements are told apart: by the value of a merge key, or (scalars and replaced lists)
/// by their whole value.
#[derive(Debug, Clone, Copy)]
enum Identity {
    Key(&'static str),
    Whole,
}

impl Identity {
    fn of_field(field: Field) -> Self {
        match field.strategy {
            Strategy::MergeByKey(key) => Identity::Key(key),
            Strategy::Replace | Strategy::Union => Identity::Whole,
        }
    }

    fn of(self, item: &Value) -> Option<&Value> {
        match self {
            Identity::Key(key) => item.get(key),
            Identity::Whole => Some(item),
        }
    }

    /// The identity of every element of a patch or order list, which must have one.
    fn of_all(self, items: &[Value]) -> Result<Vec<Value>> {
        let id = |item: &Value| match self {
            Identity::Key(key) => self
                .of(item)
                .cloned()
                .ok_or_else(|| no_merge_key(item, key)),
            Identity::Whole => Ok(item.clone()),
        };
        items.iter().map(id).collect()
    }

    /// Identities of the elements that have one (an original list may hold elements without
    /// the key; they simply never match).
    fn of_existing(self, items: &[Value]) -> Vec<Value> {
        items
            .iter()
            .filter_map(|item| self.of(item))
            .cloned()
            .collect()
    }
}

/// A patch list with its `$patch` marker elements taken out.
struct ListPatch {
    items: Vec<Value>,
    /// A `{"$patch": "replace"}` element: the list becomes exactly `items`.
    replace: bool,
    /// `{"$patch": "delete", <key>: <value>}` elements.
    deletes: Vec<Map<String, Value>>,
}

impl ListPatch {
    fn split(patch: Vec<Value>) -> Result<Self> {
        let mut split = ListPatch {
            items: Vec::new(),
            replace: false,
            deletes: Vec::new(),
        };
        for item in patch {
            if !is_marker(&item) {
                split.items.push(item);
                continue;
            }
            let Value::Object(map) = item else {
                continue;
            };
            let directive = map.get(PATCH).map(|d| Directive::parse(d, &map));
            match directive.transpose()? {
                Some(Directive::Replace) => split.replace = true,
                Some(Directive::Delete) => split.deletes.push(map),
                // Merging is what a list does anyway, so a bare marker changes nothing.
                Some(Directive::Merge) | None => {}
            }
        }
        Ok(split)
    }
}

/// Merges a patch list into the original list of a field, following the field's strategy.
pub(super) fn merge(original: Vec<Value>, patch: Vec<Value>, field: Field) -> Result<Vec<Value>> {
    let patch = ListPatch::split(patch)?;
    match field.strategy {
        Strategy::Replace => clean(patch.items, field),
        Strategy::MergeByKey(key) => merge_by_key(original, patch, key, field),
        Strategy::Union => merge_union(original, patch, field),
    }
}

/// A list that has no original to merge with: directive elements are dropped and directives
/// below are resolved, as Kubernetes does for a list the object does not have yet.
pub(super) fn clean(items: Vec<Value>, field: Field) -> Result<Vec<Value>> {
    let mut cleaned = Vec::with_capacity(items.len());
    for item in items.into_iter().filter(|item| !is_marker(item)) {
        match item {
            // Null elements are data (a list may hold nulls), not deletions.
            Value::Null => cleaned.push(Value::Null),
            item => cleaned.extend(merge_value(None, item, field.element())?),
        }
    }
    Ok(cleaned)
}

fn merge_by_key(
    original: Vec<Value>,
    patch: ListPatch,
    key: &'static str,
    field: Field,
) -> Result<Vec<Value>> {
    let mut merged = original;
    for delete in &patch.deletes {
        let id = delete
            .get(key)
            .ok_or_else(|| no_merge_key_in(delete, key))?;
        merged.retain(|item| !item.get(key).is_some_and(|v| same(v, id)));
    }
    if patch.replace {
        return clean(patch.items, field);
    }
    let items = as_objects(&merged, patch.items, key, field)?;
    let patch_order = items
        .iter()
        .map(|item| {
            item.get(key)
                .cloned()
                .ok_or_else(|| no_merge_key_in(item, key))
        })
        .collect::<Result<Vec<_>>>()?;
    let identity = Identity::Key(key);
    let server_order = identity.of_existing(&merged);
    for (item, id) in items.into_iter().zip(&patch_order) {
        upsert(&mut merged, item, id, key, field)?;
    }
    Ok(normalize_order(
        merged,
        &patch_order,
        &server_order,
        identity,
    ))
}

/// The patch elements of a keyed list as maps; elements on both sides must be objects.
fn as_objects(
    original: &[Value],
    items: Vec<Value>,
    key: &str,
    field: Field,
) -> Result<Vec<Map<String, Value>>> {
    if let Some(bad) = original.iter().chain(&items).find(|item| !item.is_object()) {
        return Err(PatchError::Invalid(format!(
            "list {:?} is merged by key {key:?}, but has an element that is not an object: {bad}",
            field.name
        )));
    }
    let maps = items.into_iter().filter_map(|item| match item {
        Value::Object(map) => Some(map),
        _ => None,
    });
    Ok(maps.collect())
}

/// Merges one patch element into the element with the same key, or appends it.
fn upsert(
    merged: &mut Vec<Value>,
    item: Map<String, Value>,
    id: &Value,
    key: &str,
    field: Field,
) -> Result<()> {
    let existing = merged
        .iter()
        .position(|m| m.get(key).is_some_and(|v| same(v, id)));
    let original = existing.and_then(|i| merged[i].as_object_mut().map(std::mem::take));
    // Only a `$patch: delete` makes this `None`, and those were taken out as markers.
    let element = Value::Object(merge_map(original, item, field.ty)?.unwrap_or_default());
    match existing {
        Some(i) => merged[i] = element,
        None => merged.push(element),
    }
    Ok(())
}

fn merge_union(original: Vec<Value>, patch: ListPatch, field: Field) -> Result<Vec<Value>> {
    if !patch.deletes.is_empty() {
        return Err(PatchError::Invalid(format!(
            "list {:?} has no merge key, so it takes `$deleteFromPrimitiveList/{}` rather than `$patch: delete` elements",
            field.name, field.name
        )));
    }
    if patch.replace {
        return clean(patch.items, field);
    }
    if let Some(bad) = original
        .iter()
        .chain(&patch.items)
        .find(|v| v.is_object() || v.is_array())
    {
        return Err(PatchError::Invalid(format!(
            "cannot merge lists without merge key for {:?}: element {bad} is not a scalar",
            field.name
        )));
    }
    let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.items.len());
    for item in original.iter().chain(&patch.items) {
        if !merged.iter().any(|m| same(m, item)) {
            merged.push(item.clone());
        }
    }
    Ok(normalize_order(
        merged,
        &patch.items,
        &original,
        Identity::Whole,
    ))
}

/// `$deleteFromPrimitiveList/<list>`: removes every element equal to one of `remove`. A list
/// the object does not have stays absent.
pub(super) fn delete_from(original: Option<&mut Value>, remove: Value) -> Result<()> {
    let Value::Array(remove) = remove else {
        return Err(PatchError::Malformed(
            "invalid patch format of primitive list".into(),
        ));
    };
    if let Some(Value::Array(items)) = original {
        items.retain(|item| !remove.iter().any(|r| same(item, r)));
    }
    Ok(())
}

/// `$setElementOrder/<list>`: merges the list's patch (if any) into the original (if any) and
/// puts the listed elements in the given order, keeping elements only the server knows near
/// their old neighbours. `None` when neither side has the list.
pub(super) fn set_element_order(
    original: Option<Value>,
    patch: Option<Value>,
    order: Value,
    field: Field,
) -> Result<Option<Vec<Value>>> {
    let Value::Array(order) = order else {
        return Err(PatchError::Malformed(
            "invalid patch format of setElementOrder list".into(),
        ));
    };
    let identity = Identity::of_field(field);
    let order = identity.of_all(&order)?;
    let original = match original {
        Some(Value::Array(items)) => Some(items),
        _ => None,
    };
    let patch = match patch {
        Some(Value::Array(items)) => Some(items),
        Some(other) => {
            return Err(PatchError::Invalid(format!(
                "expected a list for {:?} next to its $setElementOrder directive, got {other}",
                field.name
            )));
        }
        None => None,
    };
    if let Some(patch) = &patch {
        check_order(patch, &order, identity)?;
    }
    let server_order = original
        .as_deref()
        .map(|o| identity.of_existing(o))
        .unwrap_or_default();
    let merged = match (original, patch) {
        (None, None) => return Ok(None),
        (Some(original), None) => original,
        (None, Some(patch)) => clean(patch, field)?,
        (Some(original), Some(patch)) => merge(original, patch, field)?,
    };
    Ok(Some(normalize_order(
        merged,
        &order,
        &server_order,
        identity,
    )))
}

/// The patch list's elements must appear in `$setElementOrder` in the same relative order.
fn check_order(patch: &[Value], order: &[Value], identity: Identity) -> Result<()> {
    if order.is_empty() {
        return Ok(());
    }
    let mut remaining = order.iter();
    for item in patch.iter().filter(|item| !is_marker(item)) {
        let id = match identity {
            Identity::Key(key) => identity.of(item).ok_or_else(|| no_merge_key(item, key))?,
            Identity::Whole => item,
        };
        if !remaining.any(|o| same(o, id)) {
            return Err(PatchError::Invalid(format!(
                "the order in patch list {} doesn't match $setElementOrder list {}",
                Value::Array(patch.to_vec()),
                Value::Array(order.to_vec())
            )));
        }
    }
    Ok(())
}

/// Kubernetes' element order for a merged list: the elements named by `order` (the patch list
/// or `$setElementOrder`) come in that order; the others keep their original order and are
/// interleaved so that each stays before the original elements it preceded. An element new to
/// the list goes before any server-only element it is compared with, which is why a plain
/// patch adding an element puts it first.
fn normalize_order(
    merged: Vec<Value>,
    order: &[Value],
    server_order: &[Value],
    identity: Identity,
) -> Vec<Value> {
    let position = |ids: &[Value], item: &Value| {
        let id = identity.of(item)?;
        ids.iter().position(|x| same(x, id))
    };
    let (mut named, mut server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|item| position(order, item).is_some());
    named.sort_by_key(|item| position(order, item));
    server_only.sort_by_key(|item| position(server_order, item).unwrap_or(usize::MAX));
    interleave(server_only, named, |server, named| {
        match (
            position(server_order, server),
            position(server_order, named),
        ) {
            (Some(s), Some(n)) => s < n,
            _ => false,
        }
    })
}

/// Merges two ordered lists, taking from `left` while `left_first` holds for the two heads.
fn interleave(
    left: Vec<Value>,
    right: Vec<Value>,
    left_first: impl Fn(&Value, &Value) -> bool,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => left_first(l, r),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        out.extend(if take_left { left.next() } else { right.next() });
    }
}

/// JSON equality where numbers compare by value (`80` equals `80.0`), as Go's decoded
/// `float64`s do.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn no_merge_key(item: &Value, key: &str) -> PatchError {
    PatchError::Invalid(format!(
        "map: {item} does not contain declared merge key: {key}"
    ))
}

fn no_merge_key_in(map: &Map<String, Value>, key: &str) -> PatchError {
    no_merge_key(&Value::Object(map.clone()), key)
}
