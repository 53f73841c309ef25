//! How errors leave the API: `{"exc_type", "message"[, "field"]}` with a
//! fitting status. Never a stack trace, never a secret (engine messages
//! are written to name fields and causes, not values of secrets).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use outpost_engine::{Error, ErrorBody, ExcType};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Seconds for a Retry-After header (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, exc_type: ExcType, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                exc_type,
                message: message.into(),
                field: None,
            },
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ExcType::ValidationError, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ExcType::AuthenticationError,
            message,
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ExcType::InternalError,
            message,
        )
    }
}

pub fn status_of(exc: ExcType) -> StatusCode {
    match exc {
        ExcType::ValidationError | ExcType::MandatoryError | ExcType::LinkValidationError => {
            StatusCode::BAD_REQUEST
        }
        ExcType::DuplicateEntryError
        | ExcType::LinkExistsError
        | ExcType::UpdateAfterSubmitError => StatusCode::CONFLICT,
        ExcType::DoesNotExistError => StatusCode::NOT_FOUND,
        ExcType::PermissionError => StatusCode::FORBIDDEN,
        ExcType::AuthenticationError => StatusCode::UNAUTHORIZED,
        ExcType::ConnectionError => StatusCode::BAD_GATEWAY,
        ExcType::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ExcType::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let body = ErrorBody::from(&e);
        if body.exc_type == ExcType::InternalError {
            tracing::error!(error = %e, "internal error");
        }
        let retry_after = match e {
            Error::TooManyAttempts { retry_after } => Some(retry_after),
            _ => None,
        };
        ApiError {
            status: status_of(body.exc_type),
            body,
            retry_after,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
