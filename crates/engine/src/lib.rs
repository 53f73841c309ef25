//! Outpost's engine: the site store and everything that happens to
//! documents. No GUI and no HTTP server depend on it; both call it.

pub mod actor;
mod attempts;
pub mod condition;
mod db;
pub mod doctype;
pub mod document;
pub mod error;
pub mod failpoint;
mod hashed;
pub mod mapping;
pub mod notice;
pub mod query;
pub mod secret;
pub mod secrets;
pub mod seed;
pub mod sessions;
pub mod site;
pub mod stream;
pub mod users;

/// The most bytes of one request to a site, and of one answer but a
/// pull's page (SPEC §4: bodies are size-limited). A document may take a
/// little less ([`document::store::MAX_DOC_BYTES`]), so that it can always
/// travel; a pushed page's documents less again (they share the request).
pub const MAX_BODY_BYTES: usize = 8 << 20;

pub use actor::Actor;
pub use document::Doc;
pub use error::{Error, ErrorBody, ExcType, Result};
pub use query::ListQuery;
pub use secret::Secret;
pub use site::{Site, SiteInfo};
