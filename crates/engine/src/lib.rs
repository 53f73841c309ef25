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

pub use actor::Actor;
pub use document::Doc;
pub use error::{Error, ErrorBody, ExcType, Result};
pub use query::ListQuery;
pub use secret::Secret;
pub use site::{Site, SiteInfo};
