//! A minimal HTTP/1.1 GET of JSON on loopback (plain `http://`): enough to read the
//! sandbox's API (an asset, a session list, `/sandbox/stats`) from any test without pulling
//! an HTTP client stack into it.

use std::io::{Error, ErrorKind, Read, Result, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// How long a silent server may keep a request waiting.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// An error about what the server sent.
fn bad(message: String) -> Error {
    Error::new(ErrorKind::InvalidData, message)
}

/// `GET url` with `x-api-key: key`; returns the status and the body parsed as JSON.
///
/// # Errors
///
/// For URLs that are not `http://host:port/...`, connection failures, and answers that are
/// not HTTP or whose body is not JSON.
pub fn get_json(url: &str, key: &str) -> Result<(u16, Value)> {
    let (host, path) = split(url, "http://")?;
    let stream = TcpStream::connect(host)
        .map_err(|e| Error::new(e.kind(), format!("connect to {host}: {e}")))?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    exchange(stream, url, host, path, key)
}

/// As [`get_json`] for an `https://` URL: the TLS connection goes to `addr` (so a host name
/// that resolves nowhere can be served from loopback), verified with `tls` as the URL's host.
///
/// # Errors
///
/// As [`get_json`], and when the handshake fails.
pub fn get_json_over_tls(
    url: &str,
    addr: std::net::SocketAddr,
    key: &str,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<(u16, Value)> {
    let (host, path) = split(url, "https://")?;
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let name = rustls::pki_types::ServerName::try_from(name.trim_matches(['[', ']']).to_owned())
        .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("{host}: {e}")))?;
    let connection = rustls::ClientConnection::new(tls, name).map_err(Error::other)?;
    let tcp = TcpStream::connect(addr)
        .map_err(|e| Error::new(e.kind(), format!("connect to {addr}: {e}")))?;
    tcp.set_read_timeout(Some(READ_TIMEOUT))?;
    exchange(
        rustls::StreamOwned::new(connection, tcp),
        url,
        host,
        path,
        key,
    )
}

/// The `host:port` and the path of a `scheme` URL.
fn split<'a>(url: &'a str, scheme: &str) -> Result<(&'a str, &'a str)> {
    let rest = url.strip_prefix(scheme).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("only {scheme} URLs are supported: {url}"),
        )
    })?;
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

/// Sends the GET on `stream` and reads the whole answer.
fn exchange(
    mut stream: impl Read + Write,
    url: &str,
    host: &str,
    path: &str,
    key: &str,
) -> Result<(u16, Value)> {
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nx-api-key: {key}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad(format!("no end of headers in the answer of {url}")))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line: {head}")))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    let json = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "answer of {url} ({status}) is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        ))
    })?;
    Ok((status, json))
}

/// Decodes a chunked transfer-encoded body.
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("truncated chunked body".to_owned()))?;
        let size_text = String::from_utf8_lossy(&data[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| bad(format!("bad chunk size {size_text:?}: {e}")))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(bad("truncated chunk".to_owned()));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks() {
        let body = b"4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        assert_eq!(dechunk(body).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn a_truncated_chunk_is_an_error() {
        let error = dechunk(b"9\r\n{\"a\"\r\n").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidData);
        assert!(error.to_string().contains("truncated"), "{error}");
    }

    #[test]
    fn only_plain_http_urls_are_taken() {
        let error = get_json("https://127.0.0.1:1/v1.3/assets", "k").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn reads_the_sandbox_api_with_its_key_and_without() {
        let server = crate::sandbox("http-key", 1 << 20).start().unwrap();
        let list = format!("{}/assets/multipart-uploads", server.base_url());
        let (status, body) = get_json(&list, "http-key").unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"], serde_json::json!([]), "{body}");
        let (status, body) = get_json(&list, "wrong-key").unwrap();
        assert_eq!(status, 401, "{body}");
        assert!(body["code"].is_string(), "{body}");
        let (status, stats) =
            get_json(&format!("{}/sandbox/stats", server.base_url()), "http-key").unwrap();
        assert_eq!(status, 200, "{stats}");
        assert_eq!(stats["sessions_created"], 0, "{stats}");
    }
}
