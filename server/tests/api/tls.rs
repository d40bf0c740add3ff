//! HTTPS served by the node itself (`--tls-cert`, `--tls-key`): HTTP/2 by ALPN with HTTP/1.1
//! kept, `Secure` cookies without being told, a renewed certificate picked up without a
//! restart, a broken renewal ignored, and start-up errors that name the file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::{Certificate, Version};
use server::config::Config;
use server::tls::TlsFiles;
use server::Server;

use crate::common::TestServer;

/// A self-signed certificate for 127.0.0.1 and localhost: (certificate PEM, key PEM).
fn self_signed() -> (String, String) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).expect("certificate");
    (made.cert.pem(), made.signing_key.serialize_pem())
}

fn write_pair(dir: &Path, cert: &str, key: &str) -> TlsFiles {
    let files = TlsFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    std::fs::write(&files.cert, cert).unwrap();
    std::fs::write(&files.key, key).unwrap();
    files
}

/// A client that trusts exactly these certificates and reports the one the server showed.
fn client(trusted: &[&str], http1: bool) -> reqwest::Client {
    let roots = trusted.iter().map(|pem| Certificate::from_pem(pem.as_bytes()).expect("PEM"));
    let builder = reqwest::Client::builder().tls_certs_only(roots).tls_info(true);
    let builder = if http1 { builder.http1_only() } else { builder };
    builder.build().expect("client")
}

/// The DER of the leaf certificate a new connection to `url` is shown.
async fn served_certificate(trusted: &[&str], url: &str) -> Vec<u8> {
    let res = client(trusted, false).get(url).send().await.expect("HTTPS request");
    let info = res.extensions().get::<reqwest::tls::TlsInfo>().expect("TLS info");
    info.peer_certificate().expect("a certificate").to_vec()
}

fn der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).expect("PEM").to_vec()
}

async fn https_server(dir: &Path, files: TlsFiles) -> TestServer {
    let mut config = Config::for_tests(dir);
    config.tls = Some(files);
    TestServer::start(config).await
}

#[tokio::test]
async fn https_speaks_http2_and_http1_and_marks_cookies_secure() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let files = write_pair(dir.path(), &cert, &key);
    let server = https_server(dir.path(), files).await;
    let health = format!("https://{}/api/health", server.addr);

    let res = client(&[&cert], false).get(&health).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), Version::HTTP_2, "ALPN picks HTTP/2 when the client offers it");
    let res = client(&[&cert], true).get(&health).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), Version::HTTP_11, "HTTP/1.1 stays for clients without HTTP/2");

    // Plain HTTP to the HTTPS port is refused rather than answered in clear.
    let plain = reqwest::Client::new().get(format!("http://{}/api/health", server.addr)).send().await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true), "plain HTTP is not served");

    // No --secure-cookies, yet the session cookies a browser gets over HTTPS are Secure.
    let https = client(&[&cert], false);
    let account = serde_json::json!({
        "username": "tls-user", "email": "tls@example.org", "password": "correct horse battery",
        "domain": "healthcare", "subdomain": "oncology",
    });
    let res = https.post(format!("https://{}/api/auth/register", server.addr)).json(&account).send().await.unwrap();
    assert_eq!(res.status(), 201, "register");
    let login = serde_json::json!({"username": "tls-user", "password": "correct horse battery"});
    let res = https.post(format!("https://{}/api/auth/login", server.addr)).json(&login).send().await.unwrap();
    assert_eq!(res.status(), 200, "login");
    let cookies: Vec<&str> = res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(!cookies.is_empty(), "a session sets cookies");
    for c in cookies {
        assert!(c.contains("; Secure"), "cookie without Secure over HTTPS: {c}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_and_a_broken_one_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (first, first_key) = self_signed();
    let files = write_pair(dir.path(), &first, &first_key);
    let server = https_server(dir.path(), files.clone()).await;
    let health = format!("https://{}/api/health", server.addr);
    let (second, second_key) = self_signed();
    let both = [first.as_str(), second.as_str()];
    assert_eq!(served_certificate(&both, &health).await, der(&first));

    // A renewal: the new pair replaces the old files (renamed into place, as certbot does).
    for (path, text) in [(&files.key, &second_key), (&files.cert, &second)] {
        let tmp = PathBuf::from(format!("{}.new", path.display()));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }
    let deadline = Instant::now() + server::tls::RELOAD_POLL * 5;
    while served_certificate(&both, &health).await != der(&second) {
        assert!(Instant::now() < deadline, "the renewed certificate was not served within {:?}", server::tls::RELOAD_POLL * 5);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A broken renewal (a key that is not PEM) is logged and the working certificate stays.
    std::fs::write(&files.key, "not a key").unwrap();
    tokio::time::sleep(server::tls::RELOAD_POLL * 2).await;
    assert_eq!(served_certificate(&both, &health).await, der(&second), "the certificate in use survives a bad renewal");
    server.stop().await;
}

#[tokio::test]
async fn bad_tls_files_stop_the_start_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let (_, other_key) = self_signed();
    let start = |files: TlsFiles| {
        let mut config = Config::for_tests(dir.path());
        config.tls = Some(files);
        async move { Server::bind(&config).await.err().expect("start refused").to_string() }
    };

    let missing = TlsFiles { cert: dir.path().join("absent.pem"), key: dir.path().join("absent-key.pem") };
    let e = start(missing).await;
    assert!(e.contains("absent.pem"), "{e}");

    let files = write_pair(dir.path(), "no certificate here", &key);
    let e = start(files).await;
    assert!(e.contains("cert.pem") && e.contains("no certificate"), "{e}");

    let files = write_pair(dir.path(), &cert, &other_key);
    let e = start(files).await;
    assert!(e.contains("key.pem") && e.contains("does not fit the certificate"), "{e}");
}
