//! The HTTP surface: Frappe-shaped resources and methods (SPEC F7), and the
//! OpenAPI document generated from the same route declarations.

pub mod invite;
pub mod live;
pub mod method;
pub mod resource;
pub mod session;

use serde::Serialize;
use utoipa::ToSchema;

/// `{"data": …}` — what resource routes answer.
#[derive(Serialize, ToSchema)]
pub struct Data<T: Serialize> {
    pub data: T,
}

/// `{"message": …}` — what method routes answer.
#[derive(Serialize, ToSchema)]
pub struct Message<T: Serialize> {
    pub message: T,
}

/// Every error: a stable `exc_type`, a readable `message`, and the `field`
/// at fault when there is one.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documents the wire shape of outpost_engine::ErrorBody
pub struct ErrorSchema {
    /// ValidationError, MandatoryError, LinkValidationError, DuplicateEntryError,
    /// DoesNotExistError, LinkExistsError, UpdateAfterSubmitError, PermissionError,
    /// AuthenticationError or InternalError.
    exc_type: String,
    message: String,
    field: Option<String>,
}
