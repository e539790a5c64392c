//! The api's errors and how they reach clients: every GraphQL error carries a stable
//! `extensions.code` (`INVALID_GEOMETRY`, `INVALID_INPUT`, `NOT_FOUND`, `CONFLICT`,
//! `UNAUTHENTICATED`, `FORBIDDEN`, `LIMIT_EXCEEDED`, `TIMEOUT`, `UNAVAILABLE`, `INTERNAL`); import errors also carry `feature` and `field`. Internal errors
//! are logged and answered with a generic message.

use async_graphql::ErrorExtensions;
use geodata::ValidationError;

/// Anything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Imported GeoJSON broke a rule of `geodata::validate`.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// An argument is malformed or out of range (not a geometry problem).
    #[error("{message}")]
    InvalidInput {
        message: String,
        feature: Option<usize>,
        field: Option<String>,
    },
    /// Something named by the request does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with what is stored (a code or id taken, a stale version).
    #[error("{message}")]
    Conflict {
        message: String,
        feature: Option<usize>,
    },
    /// A request went past a limit (page size, ...).
    #[error("{0}")]
    LimitExceeded(String),
    /// No credentials where they are needed, or a wrong, unknown or revoked token.
    #[error("{0}")]
    Unauthenticated(String),
    /// Credentials whose role does not allow the request.
    #[error("{0}")]
    Forbidden(String),
    /// A query ran past the request timeout and was cancelled.
    #[error("{0}")]
    Timeout(String),
    /// The server is still loading its index.
    #[error("the server is still loading; retry when GET /healthz answers 200")]
    Unavailable,
    /// A database failure; details go to the log, not to the client.
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    /// A failure of the server itself (a background task that died, ...); logged.
    #[error("internal error")]
    Internal(String),
    /// Stored geometry could not be read back.
    #[error("stored geometry is unreadable")]
    Encoding(#[from] geodata::encoding::EncodingError),
}

impl ApiError {
    /// An [`ApiError::InvalidInput`] not tied to an imported feature.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::InvalidInput {
            message: message.into(),
            feature: None,
            field: None,
        }
    }

    /// An [`ApiError::InvalidInput`] about one imported feature's member.
    pub fn invalid_feature(feature: usize, field: &str, message: impl Into<String>) -> Self {
        ApiError::InvalidInput {
            message: format!("feature {feature}: {field}: {}", message.into()),
            feature: Some(feature),
            field: Some(field.to_owned()),
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(e) if e.is_geometry() => "INVALID_GEOMETRY",
            ApiError::Validation(_) | ApiError::InvalidInput { .. } => "INVALID_INPUT",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Conflict { .. } => "CONFLICT",
            ApiError::LimitExceeded(_) => "LIMIT_EXCEEDED",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::Timeout(_) => "TIMEOUT",
            ApiError::Unavailable => "UNAVAILABLE",
            ApiError::Database(_) | ApiError::Encoding(_) | ApiError::Internal(_) => "INTERNAL",
        }
    }

    fn feature(&self) -> Option<usize> {
        match self {
            ApiError::Validation(e) => e.feature(),
            ApiError::InvalidInput { feature, .. } | ApiError::Conflict { feature, .. } => *feature,
            _ => None,
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            ApiError::Validation(e) => e.field(),
            ApiError::InvalidInput { field, .. } => field.clone(),
            _ => None,
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        if self.code() == "INTERNAL" {
            tracing::error!(error = ?self, "internal error");
        }
        async_graphql::Error::new(self.to_string()).extend_with(|_, extensions| {
            extensions.set("code", self.code());
            if let Some(feature) = self.feature() {
                extensions.set("feature", feature as u64);
            }
            if let Some(field) = self.field() {
                extensions.set("field", field);
            }
        })
    }
}

impl From<geodata::rebalance::RebalanceError> for ApiError {
    fn from(error: geodata::rebalance::RebalanceError) -> Self {
        ApiError::invalid(error.to_string())
    }
}

/// The result of api services; resolvers turn it into a GraphQL result with
/// `async_graphql::ResultExt::extend`.
pub type ApiResult<T> = Result<T, ApiError>;
