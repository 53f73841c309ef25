//! The engine's error type. Every error carries a stable [`ExcType`] (the
//! Frappe-style `exc_type` the API and UI show) and, where one field is at
//! fault, that field's name.

use serde::Serialize;
use ts_rs::TS;

/// Stable error codes, serialised exactly as Frappe names them so that
/// existing Frappe clients recognise them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub enum ExcType {
    ValidationError,
    MandatoryError,
    LinkValidationError,
    DuplicateEntryError,
    DoesNotExistError,
    LinkExistsError,
    UpdateAfterSubmitError,
    PermissionError,
    AuthenticationError,
    /// Another site could not be reached (offline, refused, timed out).
    ConnectionError,
    /// Too many failed attempts: wait and try again (429, Retry-After).
    TooManyRequests,
    InternalError,
}

/// Whether retrying the same operation later could succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Permanent,
    Retryable,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value breaks a rule of its field (type, Select options, format…).
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// A mandatory field has no value.
    #[error("Value missing for {doctype}{row}: {label} ({field})")]
    Mandatory {
        doctype: String,
        row: String,
        field: String,
        label: String,
    },
    /// A Link (or Dynamic Link) points at a document that does not exist.
    #[error("Could not find {target_doctype}: {value} (field {field})")]
    Link {
        field: String,
        target_doctype: String,
        value: String,
    },
    /// A name or a unique field value is already taken.
    #[error("{message}")]
    Duplicate {
        field: Option<String>,
        message: String,
    },
    #[error("{doctype} {name} not found")]
    NotFound { doctype: String, name: String },
    #[error("DocType {0} not found")]
    UnknownDocType(String),
    /// Deletion refused because another document links to this one.
    #[error("Cannot delete {doctype} {name} because {by_doctype} {by_name} links to it")]
    LinkExists {
        doctype: String,
        name: String,
        by_doctype: String,
        by_name: String,
    },
    /// An edit that the document's docstatus does not allow.
    #[error("{0}")]
    Docstatus(String),
    #[error("{0}")]
    Permission(String),
    #[error("{0}")]
    Authentication(String),
    /// Another site could not be reached; worth retrying later.
    #[error("{0}")]
    Unreachable(String),
    /// Too many failed attempts for one key: try again in `retry_after` seconds.
    #[error("Too many failed attempts with this key: try again in {retry_after} seconds")]
    TooManyAttempts { retry_after: u64 },
    /// Another site answered with an error; its message is kept.
    #[error("{0}")]
    Remote(String),
    #[error("Database error: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("Database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("Stored data is corrupt: {0}")]
    Corrupt(String),
    /// The secret store (OS keyring or file) failed.
    #[error("{0}")]
    SecretStore(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Error::Invalid {
            field: None,
            message: message.into(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn exc_type(&self) -> ExcType {
        match self {
            Error::Invalid { .. } => ExcType::ValidationError,
            Error::Mandatory { .. } => ExcType::MandatoryError,
            Error::Link { .. } => ExcType::LinkValidationError,
            Error::Duplicate { .. } => ExcType::DuplicateEntryError,
            Error::NotFound { .. } | Error::UnknownDocType(_) => ExcType::DoesNotExistError,
            Error::LinkExists { .. } => ExcType::LinkExistsError,
            Error::Docstatus(_) => ExcType::UpdateAfterSubmitError,
            Error::Permission(_) => ExcType::PermissionError,
            Error::Authentication(_) => ExcType::AuthenticationError,
            Error::Unreachable(_) => ExcType::ConnectionError,
            Error::TooManyAttempts { .. } => ExcType::TooManyRequests,
            Error::Remote(_) => ExcType::ValidationError,
            Error::Storage(_)
            | Error::Migration(_)
            | Error::Io { .. }
            | Error::Corrupt(_)
            | Error::SecretStore(_) => ExcType::InternalError,
        }
    }

    /// The field at fault, when there is exactly one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Invalid { field, .. } | Error::Duplicate { field, .. } => field.as_deref(),
            Error::Mandatory { field, .. } | Error::Link { field, .. } => Some(field),
            _ => None,
        }
    }

    pub fn retry(&self) -> Retry {
        match self {
            Error::Storage(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                Retry::Retryable
            }
            Error::Io { .. } | Error::Unreachable(_) => Retry::Retryable,
            _ => Retry::Permanent,
        }
    }
}

/// The body every error takes on the wire (HTTP and IPC alike).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ErrorBody {
    pub exc_type: ExcType,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
}

impl From<&Error> for ErrorBody {
    fn from(e: &Error) -> Self {
        // SQLite's own words may quote the statement: they go to the log,
        // never into an answer.
        let message = match e {
            Error::Storage(_) if e.exc_type() == ExcType::InternalError => {
                "The site's database failed this request; nothing was changed (details in the site's log)".to_owned()
            }
            e => e.to_string(),
        };
        ErrorBody {
            exc_type: e.exc_type(),
            message,
            field: e.field().map(str::to_owned),
        }
    }
}
