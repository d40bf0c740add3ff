//! Server-side rendering and static files, checked on the HTML the server sends (before any
//! script runs).

use crate::common::{client, TestServer};

#[tokio::test]
async fn home_page_is_rendered_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let res = client().get(srv.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..80.min(html.len())]);
    assert!(html.contains("Train better models together"), "hero missing");
    assert!(html.contains(r#"<label for="domain-select">Domain</label>"#), "label not tied to select");
    assert!(html.contains("Cardiology"), "first domain's subdomains not rendered server-side");
    assert!(html.contains(&format!("v{}", env!("CARGO_PKG_VERSION"))), "footer version missing");
    assert!(html.contains(r#"<link rel="manifest" href="/manifest.webmanifest""#));
    assert!(html.contains("/pkg/cipherfold.js"), "hydration script missing");
    assert!(html.contains("<title>Cipherfold</title>"), "title missing");
    srv.stop().await;
}

#[tokio::test]
async fn unknown_path_is_a_404_page_with_a_way_back() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let res = client().get(srv.url("/no/such/page")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let html = res.text().await.unwrap();
    assert!(html.contains("Page not found"));
    assert!(html.contains(r#"href="/""#));
    srv.stop().await;
}

#[tokio::test]
async fn static_site_files_are_served_with_their_types() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::write(site.join("manifest.webmanifest"), br#"{"name":"Cipherfold"}"#).unwrap();
    std::fs::write(site.join("sw.js"), b"// sw").unwrap();
    std::fs::write(site.join("pkg/cipherfold_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let c = client();
    for (path, ty) in [
        ("/manifest.webmanifest", "application/manifest+json"),
        ("/sw.js", "text/javascript"),
        ("/pkg/cipherfold_bg.wasm", "application/wasm"),
    ] {
        let res = c.get(srv.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let got = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(got.starts_with(ty), "{path}: content-type {got}, want {ty}");
    }
    srv.stop().await;
}

/// A signed-in page is drawn from one build of its body: every answer serialises the same
/// resources, under the ids the browser's hydration reads (it builds the page once). Before,
/// the server built a protected page two to four times per request, each build with new ids,
/// and hydration sometimes found a placeholder where the page was and panicked.
#[tokio::test]
async fn a_signed_in_page_names_the_same_resources_on_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    srv.user("ana").await;
    let r = srv.login("ana", "correct horse battery").await;
    let cookie: Vec<String> =
        r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned)).collect();
    let cookie = cookie.join("; ");
    for path in ["/models", "/datasets", "/jobs", "/analytics", "/profile", "/federations"] {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..12 {
            let html = client().get(srv.url(path)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
            assert!(html.contains("data-testid=\"who\""), "{path}: not drawn for the signed-in user");
            let pending = html.split("__PENDING_RESOURCES=").nth(1).and_then(|r| r.split(';').next()).unwrap_or("").to_owned();
            seen.insert(pending);
        }
        assert_eq!(seen.len(), 1, "{path}: the serialised resources differ between requests: {seen:?}");
    }
    srv.stop().await;
}

/// The wire formats a page offers for download are described by the app itself.
#[tokio::test]
async fn the_format_documents_are_served_by_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let res = client().get(srv.url("/docs/model-format.md")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/markdown; charset=utf-8");
    assert_eq!(res.text().await.unwrap(), include_str!("../../../docs/model-format.md"));
    let res = client().get(srv.url("/docs/he.md")).send().await.unwrap();
    assert!(res.text().await.unwrap().contains("Seeded rows"));
    let res = client().get(srv.url("/docs/secrets.md")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    srv.stop().await;
}
