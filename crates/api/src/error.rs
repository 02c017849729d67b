//! Field errors: the `details.causes` of a Kubernetes `Invalid` Status.

use std::fmt;

/// The `reason` of a Status cause, as kube-apiserver spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CauseType {
    Invalid,
    Required,
    NotSupported,
    Duplicate,
    Forbidden,
    TooLong,
    TooMany,
}

impl CauseType {
    /// The string kube-apiserver puts in `details.causes[].reason`.
    pub fn reason(self) -> &'static str {
        match self {
            CauseType::Invalid => "FieldValueInvalid",
            CauseType::Required => "FieldValueRequired",
            CauseType::NotSupported => "FieldValueNotSupported",
            CauseType::Duplicate => "FieldValueDuplicate",
            CauseType::Forbidden => "FieldValueForbidden",
            CauseType::TooLong => "FieldValueTooLong",
            CauseType::TooMany => "FieldValueTooMany",
        }
    }
}

/// One invalid field. `message` is the text after the field path, e.g.
/// `Invalid value: 70000: must be between 1 and 65535, inclusive`, so that
/// `format!("{}: {}", field, message)` is exactly what kubectl prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub cause: CauseType,
    pub message: String,
}

impl FieldError {
    /// `Invalid value: <value>: <detail>`; `value` is rendered like Go's `%v` (strings quoted).
    pub fn invalid(field: impl Into<String>, value: impl fmt::Display, detail: &str) -> Self {
        FieldError {
            field: field.into(),
            cause: CauseType::Invalid,
            message: format!("Invalid value: {value}: {detail}"),
        }
    }

    /// `Invalid value: "<value>": <detail>` for string values, quoted as kube-apiserver does.
    pub fn invalid_str(field: impl Into<String>, value: &str, detail: &str) -> Self {
        Self::invalid(field, format!("{value:?}"), detail)
    }

    pub fn required(field: impl Into<String>, detail: &str) -> Self {
        let message = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        FieldError {
            field: field.into(),
            cause: CauseType::Required,
            message,
        }
    }

    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        FieldError {
            field: field.into(),
            cause: CauseType::NotSupported,
            message: format!(
                "Unsupported value: {value:?}: supported values: {}",
                list.join(", ")
            ),
        }
    }

    pub fn duplicate(field: impl Into<String>, value: impl fmt::Display) -> Self {
        FieldError {
            field: field.into(),
            cause: CauseType::Duplicate,
            message: format!("Duplicate value: {value}"),
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        FieldError {
            field: field.into(),
            cause: CauseType::Forbidden,
            message: format!("Forbidden: {detail}"),
        }
    }

    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        FieldError {
            field: field.into(),
            cause: CauseType::TooLong,
            message: format!("Too long: may not be more than {max} bytes"),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Errors of decoding a request body into an object.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body is not well-formed JSON, YAML or protobuf.
    #[error("{0}")]
    Malformed(String),
    /// Well-formed, but a field has the wrong type or the object does not fit its kind.
    #[error("{0}")]
    Type(String),
    /// `fieldValidation=Strict` and the body has fields the kind does not know.
    #[error("strict decoding error: {}", .0.iter().map(|f| format!("unknown field {f:?}")).collect::<Vec<_>>().join(", "))]
    UnknownFields(Vec<String>),
    /// A protobuf body of a kind this server cannot decode from protobuf.
    #[error("{0}")]
    Unsupported(String),
}

/// Errors of applying a patch.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Invalid(String),
    /// A JSON-patch `test` operation did not hold.
    #[error("{0}")]
    TestFailed(String),
}

/// Errors of parsing a label or field selector.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectorError {
    #[error("unable to parse requirement: {0}")]
    Parse(String),
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}
