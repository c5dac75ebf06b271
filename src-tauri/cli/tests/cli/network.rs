//! Corporate networks: HTTPS checked against the system's trust store (and roots given with
//! `--ca-cert`), a certificate nobody trusts refused at once with words that say what to
//! do, and the system proxy: requests tunnel through `HTTPS_PROXY` with CONNECT, and a
//! proxy that refuses is named in the error.
//!
//! Every test runs the real `tlup` against a sandbox serving HTTPS with a certificate from
//! a throwaway CA made for the test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tl_sandbox::SandboxHandle;

use crate::support::*;

/// A name only the test proxy can resolve: the client cannot reach it except through the
/// proxy, so an upload that completes went through it.
const HIDDEN_HOST: &str = "uploads.sandbox.test";

/// A sandbox serving HTTPS with a leaf of a fresh CA for `names`, and that CA's PEM file.
fn https_sandbox(dir: &tempfile::TempDir, names: &[&str]) -> (SandboxHandle, PathBuf, String) {
    let (ca, cert, key) = tl_test_support::throwaway_ca_for(names);
    let mut builder = sandbox().tls(cert, key);
    if let Some(host) = names.iter().find(|n| **n != "localhost") {
        builder = builder.public_host(*host);
    }
    let server = builder.start().unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, &ca).unwrap();
    (server, ca_path, ca)
}

/// The asset id of the one `result` event of a `--json` run.
fn asset_id(run: &Run) -> String {
    let done = run.events("result");
    assert_eq!(done.len(), 1, "one result event: {}", run.stdout);
    done[0]["asset_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no asset id in {}", done[0]))
        .to_owned()
}

/// The sha256 the sandbox computed over the asset's bytes, read over HTTPS trusting `ca`;
/// `addr_host` is dialled for the URL's host (the hidden name resolves nowhere).
fn asset_sha(server: &SandboxHandle, ca: &str, id: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let asset = runtime
        .block_on(tl_test_support::settled_asset_over_tls(
            &server.base_url(),
            server.addr(),
            server.api_key(),
            id,
            ca,
            Duration::from_secs(20),
        ))
        .unwrap();
    asset["sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("no sha256 on {asset}"))
        .to_owned()
}

fn upload(server: &SandboxHandle, path: &Path) -> std::process::Command {
    let mut cmd = tlup_at(server);
    cmd.env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env_remove("TLUP_CA_CERT");
    cmd.args(["upload", "--json"]).arg(path);
    cmd
}

#[test]
fn https_trusts_a_root_given_with_ca_cert() {
    let dir = tempdir();
    let (server, ca_path, ca) = https_sandbox(&dir, &["localhost"]);
    assert!(server.base_url().starts_with("https://localhost:"));
    let path = file(&dir, "clip.mp4");
    let sha = random_file(&path, 3 * MIB + 17, 31);
    let run = exec(upload(&server, &path).env("TLUP_CA_CERT", &ca_path));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(asset_sha(&server, &ca, &asset_id(&run)), sha);
    assert_eq!(server.stats().tls_handshakes_failed, 0);
}

/// On Linux the system's trust store is the OpenSSL-style bundle, which `SSL_CERT_FILE`
/// points elsewhere; the platform verifier reads it like every other program does.
#[cfg(target_os = "linux")]
#[test]
fn https_trusts_the_systems_trust_store() {
    let dir = tempdir();
    let (server, ca_path, ca) = https_sandbox(&dir, &["localhost"]);
    let path = file(&dir, "clip.mp4");
    let sha = random_file(&path, 2 * MIB, 32);
    let run = exec(upload(&server, &path).env("SSL_CERT_FILE", &ca_path));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(asset_sha(&server, &ca, &asset_id(&run)), sha);
}

#[test]
fn an_untrusted_certificate_is_refused_at_once_and_says_what_to_do() {
    let dir = tempdir();
    let (server, _ca_path, _) = https_sandbox(&dir, &["localhost"]);
    let path = file(&dir, "clip.mp4");
    random_file(&path, MIB, 33);
    let mut cmd = upload(&server, &path);
    cmd.args(["--max-retries", "5"]);
    let run = exec(&mut cmd);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error = run.events("error");
    assert_eq!(error.len(), 1, "{}", run.stdout);
    let message = error[0]["message"].as_str().unwrap();
    eprintln!("untrusted certificate: {message}");
    assert!(
        message.contains("the certificate of localhost:")
            && message.contains("is not trusted by this computer")
            && message.contains("issued by an authority this computer does not trust")
            && message.contains("system's trust store")
            && message.contains("--ca-cert"),
        "{message}"
    );
    assert_eq!(error[0]["retryable"], false);
    // Not retried: one handshake, refused, and nothing created. The server counts it when
    // it sees the connection close, which may be a moment after tlup has exited.
    wait_until(
        "the refused handshake to be counted",
        Duration::from_secs(10),
        || server.stats().tls_handshakes_failed > 0,
    );
    let stats = server.stats();
    assert_eq!(stats.tls_handshakes_failed, 1, "{stats:?}");
    assert_eq!(stats.api_requests, 0, "{stats:?}");
}

#[test]
fn a_ca_cert_file_that_holds_no_certificate_is_a_usage_error() {
    let dir = tempdir();
    let (server, _, _) = https_sandbox(&dir, &["localhost"]);
    let bogus = dir.path().join("not-a-cert.pem");
    std::fs::write(&bogus, "hello\n").unwrap();
    let path = file(&dir, "clip.mp4");
    random_file(&path, MIB, 34);
    let run = exec(upload(&server, &path).env("TLUP_CA_CERT", &bogus));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--ca-cert") && run.stderr.contains("holds no PEM certificate"),
        "{}",
        run.stderr
    );
    let missing = dir.path().join("missing.pem");
    let run = exec(upload(&server, &path).env("TLUP_CA_CERT", &missing));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("cannot read it"), "{}", run.stderr);
}

/// A CONNECT proxy on loopback that resolves [`HIDDEN_HOST`] to `target`, and records what
/// it was asked for and how many bytes it carried towards the server.
struct ConnectProxy {
    port: u16,
    asked: Arc<Mutex<Vec<String>>>,
    carried: Arc<AtomicU64>,
}

impl ConnectProxy {
    fn start(target: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let carried = Arc::new(AtomicU64::new(0));
        let (a, c) = (asked.clone(), carried.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (a, c) = (a.clone(), c.clone());
                std::thread::spawn(move || tunnel(client, target, &a, &c));
            }
        });
        Self {
            port,
            asked,
            carried,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Serves one CONNECT: reads the request head, dials the target, answers 200 and copies
/// both ways until either side closes.
fn tunnel(
    client: TcpStream,
    target: std::net::SocketAddr,
    asked: &Mutex<Vec<String>>,
    carried: &AtomicU64,
) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(authority)) = (parts.next(), parts.next()) else {
        return;
    };
    let authority = authority.to_owned();
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    asked.lock().unwrap().push(format!("{method} {authority}"));
    let mut client = client;
    let host = authority.rsplit_once(':').map_or("", |(h, _)| h);
    if method != "CONNECT" || host != HIDDEN_HOST {
        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
        return;
    }
    let Ok(server) = TcpStream::connect(target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .unwrap();
    // Whatever the reader already buffered past the head belongs to the tunnel.
    let early = reader.buffer().to_vec();
    let mut up = server.try_clone().unwrap();
    if !early.is_empty() {
        up.write_all(&early).unwrap();
        carried.fetch_add(early.len() as u64, Ordering::Relaxed);
    }
    let mut down_from = server;
    let mut down_to = client.try_clone().unwrap();
    let down = std::thread::spawn(move || {
        let _ = std::io::copy(&mut down_from, &mut down_to);
        let _ = down_to.shutdown(Shutdown::Write);
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut from = client;
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if up.write_all(&buf[..n]).is_err() {
                    break;
                }
                carried.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    }
    let _ = up.shutdown(Shutdown::Write);
    let _ = down.join();
}

#[test]
fn uploads_tunnel_through_the_proxy_https_proxy_names() {
    let dir = tempdir();
    let (server, ca_path, ca) = https_sandbox(&dir, &[HIDDEN_HOST]);
    let port = server.addr().port();
    assert_eq!(
        server.base_url(),
        format!("https://{HIDDEN_HOST}:{port}/v1.3")
    );
    let proxy = ConnectProxy::start(server.addr());
    let path = file(&dir, "clip.mp4");
    let len = 4 * MIB + 5;
    let sha = random_file(&path, len, 35);
    let mut cmd = upload(&server, &path);
    cmd.env("HTTPS_PROXY", proxy.url())
        .env("TLUP_CA_CERT", &ca_path)
        .arg("-v");
    let run = exec(&mut cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let said = format!(
        "API calls to {HIDDEN_HOST}:{port} go through the proxy {} (from HTTPS_PROXY)",
        proxy.url()
    );
    assert!(run.stderr.contains(&said), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("HTTPS trusts the system's trust store and 1 certificate from --ca-cert"),
        "{}",
        run.stderr
    );
    let asked = proxy.asked.lock().unwrap().clone();
    assert!(!asked.is_empty());
    assert!(
        asked
            .iter()
            .all(|a| *a == format!("CONNECT {HIDDEN_HOST}:{port}")),
        "{asked:?}"
    );
    // Every byte of the file crossed the proxy (inside TLS, so a little more).
    assert!(proxy.carried.load(Ordering::Relaxed) > len);
    assert_eq!(asset_sha(&server, &ca, &asset_id(&run)), sha);
}

#[test]
fn a_proxy_that_refuses_the_connection_is_named_in_the_error() {
    let dir = tempdir();
    let (server, ca_path, _) = https_sandbox(&dir, &[HIDDEN_HOST]);
    // A port that was free a moment ago: nothing listens on it.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy = format!("http://127.0.0.1:{closed}");
    let path = file(&dir, "clip.mp4");
    random_file(&path, MIB, 36);
    let run = exec(
        upload(&server, &path)
            .env("HTTPS_PROXY", &proxy)
            .env("TLUP_CA_CERT", &ca_path),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error = run.events("error");
    assert_eq!(error.len(), 1, "{}", run.stdout);
    let message = error[0]["message"].as_str().unwrap();
    eprintln!("refusing proxy: {message}");
    assert!(
        message.contains(&format!("through the proxy {proxy}"))
            && message.to_lowercase().contains("connection refused")
            && message.contains("HTTPS_PROXY")
            && message.contains("tlup -v"),
        "{message}"
    );
    assert_eq!(server.stats().api_requests, 0);
}
