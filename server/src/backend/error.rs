//! The backend's one error type, after realworld-axum-sqlx's `http::error`: `?` turns a
//! database, object-store, stored-JSON or crypto failure into an `Error` that is logged (in
//! the request's span) and answered as an opaque 500, so no SurrealDB, serde or crypto
//! message reaches a client; a refusal meant for the client (`ApiError`) passes through.

use app::model::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An answer meant for the client: a refusal with its status and message.
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("database: {0}")]
    Db(#[from] surrealdb::Error),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// A stored record (JSON) that no longer reads back.
    #[error("stored record: {0}")]
    Stored(#[from] serde_json::Error),
    /// A sealed object (a dataset, a model) that does not open with its key.
    #[error("sealed object: {0}")]
    Crypto(#[from] app::crypto::CryptoError),
    /// The privacy accountant could not compose a stored federation's rounds (its settings
    /// were checked when it was declared, so this is the server's fault, not the caller's).
    #[error("privacy accountant: {0}")]
    Privacy(#[from] app::dp::DpError),
    /// Anything else the server cannot go on from; the text is for the log only.
    #[error("{0}")]
    Internal(String),
}

/// The backend's result: `Result<T>` for its own error, `Result<T, E>` where another fits.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// The client's refusal this error is, if it is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }
}

/// The unique index a failed write violated, by name (`account_username`). SurrealDB 3
/// reports index violations without a typed detail ("Database index `NAME` already contains
/// …"), so the name is read from the message here, once.
pub fn violated_index(e: &surrealdb::Error) -> Option<&str> {
    let message = e.message();
    let rest = &message[message.find("index `")? + "index `".len()..];
    rest.contains("already contains").then(|| rest.split('`').next()).flatten()
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Api(e) => e,
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::Internal { message: "something failed on the server; try again, and tell an administrator if it persists".into() }
            }
        }
    }
}
