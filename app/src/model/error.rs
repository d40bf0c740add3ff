//! The error every API answer uses, whether it came through a REST route or a server
//! function, so the browser and API clients read failures the same way. Server functions
//! return it directly (`FromServerFnError`), so a page reads one `Result<T, ApiError>`: the
//! server's refusal, or `Transport` when no answer came.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Field name to message, for inline validation next to each input.
pub type FieldErrors = BTreeMap<String, String>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case", try_from = "ErrorBody")]
pub enum ApiError {
    #[error("some fields are invalid")]
    Validation { fields: FieldErrors },
    #[error("{message}")]
    Conflict { message: String, field: Option<String> },
    #[error("{message}")]
    Unauthorized { message: String },
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("too many attempts; try again in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("{message}")]
    TooLarge { message: String },
    #[error("internal error: {message}")]
    Internal { message: String },
    /// No answer from the server (the browser's side of a server function: offline, a
    /// dropped connection, an answer that could not be read). Never sent by the server.
    #[error("the server could not be reached ({message}); check your connection and try again")]
    Transport { message: String },
}

/// docs/api.md's error body read field by field, for [`ApiError`]'s `Deserialize` (its
/// `Serialize` stays derived): the derived reader of an internally tagged enum buffers the
/// body through serde's `Content` first, which put about 35 kB of code into every browser
/// worker that reads an error.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: Option<String>,
    field: Option<String>,
    fields: Option<FieldErrors>,
    retry_after: Option<u64>,
}

impl TryFrom<ErrorBody> for ApiError {
    type Error = String;

    fn try_from(body: ErrorBody) -> Result<Self, String> {
        let missing = |name: &str| format!("a `{}` error needs `{name}`", body.error);
        let message = || body.message.clone().ok_or_else(|| missing("message"));
        Ok(match body.error.as_str() {
            "validation" => ApiError::Validation { fields: body.fields.clone().ok_or_else(|| missing("fields"))? },
            "conflict" => ApiError::Conflict { message: message()?, field: body.field.clone() },
            "unauthorized" => ApiError::Unauthorized { message: message()? },
            "forbidden" => ApiError::Forbidden,
            "not_found" => ApiError::NotFound,
            "rate_limited" => ApiError::RateLimited { retry_after: body.retry_after.ok_or_else(|| missing("retry_after"))? },
            "too_large" => ApiError::TooLarge { message: message()? },
            "internal" => ApiError::Internal { message: message()? },
            "transport" => ApiError::Transport { message: message()? },
            other => return Err(format!("unknown error `{other}`")),
        })
    }
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Validation { .. } => 422,
            ApiError::Conflict { .. } => 409,
            ApiError::Unauthorized { .. } => 401,
            ApiError::Forbidden => 403,
            ApiError::NotFound => 404,
            ApiError::RateLimited { .. } => 429,
            ApiError::TooLarge { .. } => 413,
            ApiError::Internal { .. } => 500,
            ApiError::Transport { .. } => 503,
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::Unauthorized { message: message.into() }
    }

    pub fn field(name: &str, message: impl Into<String>) -> Self {
        ApiError::Validation { fields: FieldErrors::from([(name.to_owned(), message.into())]) }
    }

    /// The error in words for a page: a validation error's field messages (each names what is
    /// wrong), otherwise the error itself.
    pub fn detail(&self) -> String {
        match self {
            ApiError::Validation { fields } => fields.values().cloned().collect::<Vec<_>>().join("; "),
            e => e.to_string(),
        }
    }

    /// The message for one field, if this is a validation error that names it.
    pub fn field_message(&self, name: &str) -> Option<&str> {
        match self {
            ApiError::Validation { fields } => fields.get(name).map(String::as_str),
            ApiError::Conflict { field: Some(f), message } if f == name => Some(message),
            _ => None,
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for ApiError {
    type Encoder = crate::api::codec::JsonTextEncoding;

    /// The framework's own failures: arguments that did not decode are the caller's mistake
    /// (422), a request or answer that did not travel is a transport failure, the rest are
    /// the server's.
    fn from_server_fn_error(e: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match e {
            E::Args(m) | E::MissingArg(m) => ApiError::field("body", m),
            E::Request(message) | E::Response(message) | E::Deserialization(message) => ApiError::Transport { message },
            E::Registration(message)
            | E::ServerError(message)
            | E::MiddlewareError(message)
            | E::Serialization(message)
            | E::UnsupportedRequestMethod(message) => ApiError::Internal { message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_serialise_with_a_tag_and_map_to_statuses() {
        let e = ApiError::field("email", "not an email address");
        assert_eq!(e.status(), 422);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json, serde_json::json!({"error":"validation","fields":{"email":"not an email address"}}));
        assert_eq!(ApiError::RateLimited { retry_after: 3 }.status(), 429);
        let back: ApiError = serde_json::from_value(json).unwrap();
        assert_eq!(back.field_message("email"), Some("not an email address"));
    }

    #[test]
    fn every_error_reads_back_as_itself_and_a_malformed_one_is_refused() {
        let all = [
            ApiError::field("email", "not an email address"),
            ApiError::Conflict { message: "taken".into(), field: Some("name".into()) },
            ApiError::Conflict { message: "taken".into(), field: None },
            ApiError::unauthorized("sign in"),
            ApiError::Forbidden,
            ApiError::NotFound,
            ApiError::RateLimited { retry_after: 7 },
            ApiError::TooLarge { message: "over 1 GB".into() },
            ApiError::Internal { message: "disk".into() },
            ApiError::Transport { message: "offline".into() },
        ];
        for e in all {
            let text = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<ApiError>(&text).unwrap(), e, "{text}");
        }
        let refused = |text: &str| serde_json::from_str::<ApiError>(text).unwrap_err().to_string();
        assert!(refused(r#"{"error":"conflict"}"#).contains("a `conflict` error needs `message`"));
        assert!(refused(r#"{"error":"rate_limited"}"#).contains("needs `retry_after`"));
        assert!(refused(r#"{"error":"teapot","message":"no"}"#).contains("unknown error `teapot`"));
        assert!(serde_json::from_str::<ApiError>(r#"{"message":"no tag"}"#).is_err());
    }
}
