//! The answers of our server functions: JSON, read in the browser from text.
//!
//! Why not the framework's `Json`: it reads an answer with `serde_json::from_slice`, while a
//! page that hydrates reads the same types from the server's HTML with `serde_json::from_str`
//! (Leptos's resources). Each reader is monomorphised once per answer type, so the page's wasm
//! carried every answer's deserializer twice (about 250 kB of its code before wasm-opt,
//! measured with twiggy; `scripts/bench-bundle.sh`). Reading answers from text as well leaves
//! one copy. The bytes on the wire are the framework's: `application/json`, the same JSON.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON answers (and `ApiError`s) read from text: `output = crate::api::codec::JsonText`.
pub type JsonText = Post<JsonTextEncoding>;

pub struct JsonTextEncoding;

/// An answer that is not JSON of the expected type, or not UTF-8 (which JSON always is).
#[derive(Debug, thiserror::Error)]
pub enum JsonTextError {
    #[error("the answer is not UTF-8 text: {0}")]
    Utf8(#[from] std::str::Utf8Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl ContentType for JsonTextEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonTextEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonTextEncoding {
    type Error = JsonTextError;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        Ok(serde_json::from_str(std::str::from_utf8(&bytes)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ApiError;

    #[test]
    fn answers_read_back_and_bad_bytes_say_why() {
        let error = ApiError::field("name", "name is required");
        let bytes = <JsonTextEncoding as Encodes<ApiError>>::encode(&error).unwrap();
        // The framework's own reader takes the same bytes: the wire format did not change.
        assert_eq!(serde_json::from_slice::<ApiError>(&bytes).unwrap(), error);
        assert_eq!(<JsonTextEncoding as Decodes<ApiError>>::decode(bytes).unwrap(), error);
        let not_text = <JsonTextEncoding as Decodes<ApiError>>::decode(Bytes::from_static(b"\"\xff\""));
        assert!(matches!(not_text, Err(JsonTextError::Utf8(_))), "{not_text:?}");
        let not_json = <JsonTextEncoding as Decodes<Vec<u32>>>::decode(Bytes::from_static(b"[1,"));
        assert!(matches!(not_json, Err(JsonTextError::Json(_))), "{not_json:?}");
    }
}
