//! One error type for every endpoint, with one JSON shape:
//! `{"error": {"code": "...", "message": "...", "field": "..."}}`.
//! Server errors are logged once, here, and reach clients only as
//! "internal error".

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::AccountError;
use crate::store::StoreError;

/// An API error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field is malformed (422).
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The request body is not the JSON the endpoint takes (400).
    #[error("{0}")]
    BadRequest(String),
    /// Missing or bad credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such thing, or not yours (404).
    #[error("not found")]
    NotFound,
    /// Clashes with something that exists (409).
    #[error("{message}")]
    Conflict {
        /// The field that clashes.
        field: Option<String>,
        /// What clashes.
        message: String,
    },
    /// A service this call depends on (the payment provider) is not
    /// answering; nothing was changed, try again shortly (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything unexpected (500; details are logged, not returned).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code.
    pub code: &'static str,
    /// A human-readable message.
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = match &self {
            ApiError::Invalid { field, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                Some(field.clone()),
            ),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request", None),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", None),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", None),
            ApiError::Conflict { field, .. } => (StatusCode::CONFLICT, "conflict", field.clone()),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
        };
        let message = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "request failed");
                "internal error".to_string()
            }
            ApiError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        };
        (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code,
                    message,
                    field,
                },
            }),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(field) => ApiError::Conflict {
                message: format!("{field} is already taken"),
                field: Some(field),
            },
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid { field, message } => ApiError::Invalid {
                field: field.to_string(),
                message,
            },
            AccountError::Taken(field) => ApiError::Conflict {
                message: format!("{field} is already taken"),
                field: Some(field),
            },
            AccountError::BadCredentials => {
                ApiError::Unauthorized("wrong login or password".into())
            }
            AccountError::BadToken => {
                ApiError::Unauthorized("the token is invalid or expired".into())
            }
            AccountError::Store(s) => s.into(),
            AccountError::Hashing(m) => ApiError::Internal(anyhow::anyhow!(m)),
            AccountError::Forbidden(m) => ApiError::Forbidden(m),
            AccountError::Unavailable(m) => ApiError::Unavailable(m),
            e @ AccountError::PaymentRefused(_) => ApiError::Conflict {
                field: None,
                message: e.to_string(),
            },
            AccountError::NotFound => ApiError::NotFound,
            AccountError::Conflict(m) => ApiError::Conflict {
                field: None,
                message: m,
            },
            AccountError::Suspended { until } => ApiError::Forbidden(format!(
                "the account is suspended until {}",
                jiff::Timestamp::from_millisecond(until)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|_| until.to_string())
            )),
            AccountError::Banned => ApiError::Forbidden("the account is banned".into()),
            e @ AccountError::SecondFactorRequired => ApiError::Unauthorized(e.to_string()),
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}
