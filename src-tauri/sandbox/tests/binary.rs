//! The `tl-sandbox` binary: the listening line, serving, signals, refusals.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_tl-sandbox");

/// Starts the binary with `args` (and no inherited API key).
fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .env_remove("TL_SANDBOX_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// Reads the first stdout line, with a deadline; returns it and the rest of stdout.
fn first_line(child: &mut Child) -> (String, mpsc::Receiver<String>) {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the listening line within 60 s");
    (line, rx)
}

/// A plain HTTP client (reqwest needs a TLS provider even for `http://`).
fn client() -> reqwest::Client {
    tl_test_support::install_ring_provider();
    reqwest::Client::new()
}

fn wait_with_deadline(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[tokio::test]
async fn the_binary_prints_one_line_and_serves() {
    let mut child = spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        "k",
        "--chunk-size",
        "1048576",
        "--initial-urls",
        "5",
    ]);
    let (line, rest) = first_line(&mut child);
    let url = line
        .strip_prefix("tl-sandbox listening on ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );

    let http = client();
    let created: serde_json::Value = http
        .post(format!("{url}/v1.3/assets/multipart-uploads"))
        .header("x-api-key", "k")
        .json(&serde_json::json!({"filename": "a.mp4", "type": "video", "total_size": 12_000_000}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["chunk_size"], 1_048_576);
    assert_eq!(created["total_chunks"], 12);
    assert_eq!(created["upload_urls"].as_array().unwrap().len(), 5);

    child.kill().unwrap();
    child.wait().unwrap();
    assert!(rest.try_iter().next().is_none(), "nothing else on stdout");
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_stops_it_gracefully_and_logs_leak_no_secrets() {
    let key = "super-secret-key-7f3a";
    let mut child = spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        key,
        "--log-requests",
    ]);
    let (line, _) = first_line(&mut child);
    let url = line
        .trim_start_matches("tl-sandbox listening on ")
        .to_owned();
    let http = client();
    let created: serde_json::Value = http
        .post(format!("{url}/v1.3/assets/multipart-uploads"))
        .header("x-api-key", key)
        .json(&serde_json::json!({"filename": "a.mp4", "type": "video", "total_size": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let chunk_url = created["upload_urls"][0]["url"].as_str().unwrap();
    let put = http
        .put(chunk_url)
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), reqwest::StatusCode::OK);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_with_deadline(&mut child, Duration::from_secs(10)).expect("exits on SIGTERM");
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("PUT /storage/"), "{stderr}");
    assert!(!stderr.contains(key), "{stderr}");
    assert!(!stderr.contains("X-Tl-Signature"), "{stderr}");
}

#[test]
fn the_key_can_come_from_the_environment() {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .env("TL_SANDBOX_API_KEY", "from-env")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (line, _) = first_line(&mut child);
    assert!(line.starts_with("tl-sandbox listening on http://127.0.0.1:"));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn bad_invocations_fail_with_a_message() {
    for (args, needle) in [
        (vec!["--listen", "127.0.0.1:0"], "--api-key"),
        (
            vec!["--listen", "0.0.0.0:0", "--api-key", "k"],
            "non-loopback",
        ),
        (vec!["--api-key", "k", "--fail-puts", "two"], "N:STATUS"),
        (vec!["--api-key", "k", "--storage", "tape"], "storage"),
        (
            vec!["--api-key", "k", "--tls-cert", "/nonexistent/cert.pem"],
            "--tls-cert needs --tls-key",
        ),
        (
            vec!["--api-key", "k", "--tls-key", "/nonexistent/key.pem"],
            "--tls-key needs --tls-cert",
        ),
        (
            vec![
                "--api-key",
                "k",
                "--tls-cert",
                "/nonexistent/cert.pem",
                "--tls-key",
                "/nonexistent/key.pem",
            ],
            "cannot read --tls-cert `/nonexistent/cert.pem`",
        ),
    ] {
        let mut child = spawn(&args);
        let status = wait_with_deadline(&mut child, Duration::from_secs(30)).expect("exits");
        assert!(!status.success(), "{args:?}");
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        assert!(stdout.is_empty(), "{stdout}");
    }
}

#[test]
fn the_help_documents_the_misbehaviours() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--corrupt-puts <N>",
        "--complete-delay <SECS>",
        "--early-answer",
        "--outage <KIND:SECS[@AFTER_SECS]>",
        "refuse",
        "blackhole",
        "--tls-cert <FILE>",
        "--tls-key <FILE>",
        "--public-host <NAME>",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn a_bad_outage_is_refused_with_its_reason() {
    let output = Command::new(BIN)
        .args(["--api-key", "k", "--outage", "flood:2"])
        .env_remove("TL_SANDBOX_API_KEY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not an outage kind"), "{stderr}");
}

#[tokio::test]
async fn with_a_certificate_it_serves_https_and_says_so() {
    let (ca_pem, cert_pem, key_pem) = tl_test_support::throwaway_ca();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let mut child = spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        "k",
        "--tls-cert",
        cert,
        "--tls-key",
        key,
    ]);
    let (line, rest) = first_line(&mut child);
    let url = line
        .strip_prefix("tl-sandbox listening on ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    assert!(
        url.starts_with("https://localhost:") && !url.ends_with(":0"),
        "{url}"
    );

    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tl_test_support::tls_client_config(&ca_pem))
        .build()
        .unwrap();
    let created: serde_json::Value = http
        .post(format!("{url}/v1.3/assets/multipart-uploads"))
        .header("x-api-key", "k")
        .json(&serde_json::json!({"filename": "a.mp4", "type": "video", "total_size": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let chunk_url = created["upload_urls"][0]["url"].as_str().unwrap();
    assert!(
        chunk_url.starts_with(&format!("{url}/storage/")),
        "{created}"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    assert!(rest.try_iter().next().is_none(), "nothing else on stdout");
}

#[test]
fn a_certificate_that_cannot_be_used_is_refused_naming_its_file() {
    let (_, cert_pem, key_pem) = tl_test_support::throwaway_ca();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    // Swapped: the certificate file holds the key, and the key file the certificate.
    std::fs::write(&cert, key_pem).unwrap();
    std::fs::write(&key, cert_pem).unwrap();
    let output = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--api-key", "k", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env_remove("TL_SANDBOX_API_KEY")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let named = format!("--tls-cert `{}`", cert.display());
    assert!(
        stderr.contains(&named) && stderr.contains("no certificate"),
        "{stderr}"
    );
}
