//! The wire-format documents, served by the app itself (`GET /docs/{name}.md`), so a page can
//! link to the description of what it offers for download instead of naming a repository
//! path; compiled in, so they always describe the running version.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const DOCS: [(&str, &str); 5] = [
    ("model-format.md", include_str!("../../../docs/model-format.md")),
    ("envelope.md", include_str!("../../../docs/envelope.md")),
    ("federated.md", include_str!("../../../docs/federated.md")),
    ("he.md", include_str!("../../../docs/he.md")),
    ("api.md", include_str!("../../../docs/api.md")),
];

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/docs/{name}", get(doc))
}

async fn doc(Path(name): Path<String>) -> Response {
    match DOCS.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => ([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], *text).into_response(),
        None => (StatusCode::NOT_FOUND, "no such document; the documents are model-format.md, envelope.md, federated.md, he.md and api.md")
            .into_response(),
    }
}
