//! The command-line flags, as a reusable `clap::Args` struct: the `tl-sandbox` binary parses
//! it directly, and `tlup sandbox` embeds it with `#[command(flatten)]`.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use clap::Args;

use crate::{
    config::{DEFAULT_CHUNK_SIZE, DEFAULT_MAX_TOTAL_SIZE, SandboxBuilder, Storage},
    faults::{
        FaultPlan, OutageSpec, parse_count_bytes, parse_count_secs, parse_count_status,
        parse_fail_api, parse_outage, parse_secs,
    },
};

/// Flags of a sandbox server. Its `Debug` output leaves out the API key.
#[derive(Clone, Args)]
pub struct SandboxArgs {
    /// Address to listen on. Port 0 picks a free port (the listening line tells which).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// API key clients must send as `x-api-key`.
    #[arg(
        long,
        value_name = "KEY",
        env = "TL_SANDBOX_API_KEY",
        hide_env_values = true
    )]
    pub api_key: String,

    /// Smallest chunk size of a session, in bytes (raised to keep sessions within 10,000 chunks).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_CHUNK_SIZE)]
    pub chunk_size: u64,

    /// Presigned URLs returned by create (the rest come from the presigned-urls endpoint).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub initial_urls: u32,

    /// Lifetime of a presigned URL, in seconds (fractions allowed).
    #[arg(long, value_name = "SECS", default_value = "3600", value_parser = parse_secs)]
    pub url_ttl: Duration,

    /// Lifetime of an upload session, in seconds.
    #[arg(long, value_name = "SECS", default_value = "86400", value_parser = parse_secs)]
    pub session_ttl: Duration,

    /// Largest `total_size` a session may declare, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_TOTAL_SIZE)]
    pub max_total_size: u64,

    /// Seconds a completed asset stays `processing` before it is `ready`.
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = parse_secs)]
    pub processing_delay: Duration,

    /// Where chunk bytes go: memory, disk:DIR or discard.
    #[arg(long, value_name = "STORAGE", default_value = "memory")]
    pub storage: Storage,

    /// Per-connection read limit on request bodies, bytes per second (0: unlimited).
    ///
    /// It stands for what one TCP connection gets through its window over the path's round
    /// trip; a connection gets the smaller of this and its share of --link-rate. Changes apply
    /// to open connections.
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub bandwidth: Option<u64>,

    /// Total read capacity shared by all connections' request bodies, bytes per second
    /// (0: unlimited).
    ///
    /// The uplink or bottleneck of the emulated path: connections that compete for it get
    /// equal shares, in turns of a few milliseconds; --bandwidth still caps each one.
    /// Changes apply to open connections. While either rate limit is on, new connections
    /// also get a small receive window (about 20 ms of the rate, at least 32 KiB) and, on
    /// Linux, an Ethernet MSS, so that a client's count of bytes written stays close to
    /// what the server has read. Not modelled: packet loss, a round-trip delay of the
    /// body's segments, queueing delay that grows with load, slow start.
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub link_rate: Option<u64>,

    /// Milliseconds added to every request before its body is read and it is answered.
    ///
    /// Once per request (the round trips of its setup), not per round trip of the body.
    #[arg(long, value_name = "MS")]
    pub latency_ms: Option<u64>,

    /// The next N chunk PUTs answer STATUS (e.g. 2:503).
    #[arg(long, value_name = "N:STATUS", value_parser = parse_count_status)]
    pub fail_puts: Option<(u32, u16)>,

    /// The next N chunk PUTs lose their connection after BYTES bytes of body.
    #[arg(long, value_name = "N:BYTES", value_parser = parse_count_bytes)]
    pub drop_puts_after: Option<(u32, u64)>,

    /// The next N chunk PUTs wait SECS before their body is read.
    #[arg(long, value_name = "N:SECS", value_parser = parse_count_secs)]
    pub stall_puts: Option<(u32, Duration)>,

    /// The next N chunk PUTs succeed without an ETag header.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub omit_etag: u32,

    /// The next N API calls answer STATUS, with Retry-After if given (e.g. 3:429:1).
    #[arg(long, value_name = "N:STATUS[:RETRY_AFTER_SECS]", value_parser = parse_fail_api)]
    pub fail_api: Option<(u32, u16, Option<Duration>)>,

    /// The next N chunk PUTs are stored with one byte flipped (the middle one), and their
    /// ETag is the MD5 of the damaged bytes.
    ///
    /// A client that compares the ETag with its own MD5 of what it sent sees the mismatch;
    /// a later correct PUT of the chunk replaces the damaged bytes. PUTs that a drop or a
    /// failure fault takes are not stored, so they do not use up this count.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub corrupt_puts: u32,

    /// Seconds a session stays `active` after its last chunk is reported, before it is
    /// `completed` and its asset exists (0: at once).
    ///
    /// Meanwhile every chunk is listed completed, the status call and the listing of
    /// incomplete sessions say `active`, and `GET /assets/{id}` is a 404. The completing
    /// report already carries the asset's `url`.
    #[arg(long, value_name = "SECS", default_value = "0", value_parser = parse_secs)]
    pub complete_delay: Duration,

    /// Answer a chunk PUT that will be refused (expired URL, bad signature, unknown or
    /// finished session, an injected --fail-puts status) before reading its body, then
    /// close the connection with the body unread, as S3 does.
    ///
    /// The kernel then resets the connection, so a client still sending a large body
    /// usually sees a broken pipe or a reset instead of the status. Without this flag the
    /// sandbox reads and throws away the rest of the body, and the client always gets the
    /// answer.
    #[arg(long)]
    pub early_answer: bool,

    /// A network outage of KIND for SECS seconds, AFTER_SECS after the start (default 0),
    /// e.g. reset:2 or blackhole:1.5@10.
    ///
    /// KIND is refuse (the port is closed: connecting fails with ECONNREFUSED; open
    /// connections are reset; the port is bound again afterwards), blackhole (connections
    /// are accepted but nothing is answered and no body is read; requests under way
    /// freeze) or reset (at most 64 KiB of each request's body is read, then its
    /// connection is reset). API calls and chunk PUTs are hit, /v1.3/sandbox/* calls are
    /// spared (but no new connection gets through a refuse). Sessions are untouched.
    #[arg(long, value_name = "KIND:SECS[@AFTER_SECS]", value_parser = parse_outage)]
    pub outage: Option<OutageSpec>,

    /// Allow listening on a non-loopback address (the sandbox has no real security).
    #[arg(long)]
    pub allow_non_loopback: bool,

    /// Log one line per request to stderr (never the query string or the API key), and
    /// every failed TLS handshake.
    #[arg(long)]
    pub log_requests: bool,

    /// Serve HTTPS with the certificate chain in FILE (PEM: the server's certificate first,
    /// then any intermediates). Needs --tls-key.
    ///
    /// The listening line, presigned URLs and asset URLs then say https://, on the host
    /// localhost when the listen address is a loopback one (see --public-host). TLS 1.2 and
    /// 1.3, ALPN http/1.1 only. The link emulation paces the TCP bytes (ciphertext); the
    /// stats count plaintext body bytes.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert, in FILE (PEM: PKCS#8, PKCS#1 or SEC1). Needs
    /// --tls-cert.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Host name (or IP address) in the URLs the sandbox hands out: the listening line,
    /// presigned chunk URLs, asset URLs.
    ///
    /// Default: the listen address (127.0.0.1 for 0.0.0.0), or localhost with --tls-cert on
    /// a loopback address. It changes only what URLs say, not where the server listens.
    #[arg(long, value_name = "NAME")]
    pub public_host: Option<String>,
}

impl fmt::Debug for SandboxArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxArgs")
            .field("listen", &self.listen)
            .field("api_key", &"<redacted>")
            .field("chunk_size", &self.chunk_size)
            .field("initial_urls", &self.initial_urls)
            .field("url_ttl", &self.url_ttl)
            .field("session_ttl", &self.session_ttl)
            .field("max_total_size", &self.max_total_size)
            .field("processing_delay", &self.processing_delay)
            .field("storage", &self.storage)
            .field("bandwidth", &self.bandwidth)
            .field("link_rate", &self.link_rate)
            .field("latency_ms", &self.latency_ms)
            .field("fail_puts", &self.fail_puts)
            .field("drop_puts_after", &self.drop_puts_after)
            .field("stall_puts", &self.stall_puts)
            .field("omit_etag", &self.omit_etag)
            .field("fail_api", &self.fail_api)
            .field("corrupt_puts", &self.corrupt_puts)
            .field("complete_delay", &self.complete_delay)
            .field("early_answer", &self.early_answer)
            .field("outage", &self.outage)
            .field("allow_non_loopback", &self.allow_non_loopback)
            .field("log_requests", &self.log_requests)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("public_host", &self.public_host)
            .finish()
    }
}

impl SandboxArgs {
    /// The builder these flags describe.
    ///
    /// # Errors
    ///
    /// A message for settings clap cannot check on its own: an empty API key, one of
    /// `--tls-cert` and `--tls-key` without the other, a certificate or key file that cannot
    /// be read (whether its PEM can be used is checked by [`SandboxBuilder::start`]).
    pub fn into_builder(self) -> Result<SandboxBuilder, String> {
        if self.api_key.is_empty() {
            return Err("--api-key must not be empty".to_owned());
        }
        let read = |flag: &str, path: &PathBuf| {
            std::fs::read(path).map_err(|e| format!("cannot read {flag} `{}`: {e}", path.display()))
        };
        let tls = match (&self.tls_cert, &self.tls_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some((
                read("--tls-cert", cert)?,
                cert,
                read("--tls-key", key)?,
                key,
            )),
            (Some(_), None) => {
                return Err("--tls-cert needs --tls-key (give both or neither)".to_owned());
            }
            (None, Some(_)) => {
                return Err("--tls-key needs --tls-cert (give both or neither)".to_owned());
            }
        };
        let mut builder = SandboxBuilder::default()
            .api_key(self.api_key)
            .listen(self.listen)
            .allow_non_loopback(self.allow_non_loopback)
            .chunk_size(self.chunk_size)
            .initial_urls(self.initial_urls)
            .url_ttl(self.url_ttl)
            .session_ttl(self.session_ttl)
            .max_total_size(self.max_total_size)
            .processing_delay(self.processing_delay)
            .storage(self.storage)
            .bandwidth(self.bandwidth.filter(|&b| b > 0))
            .link_rate(self.link_rate.filter(|&r| r > 0))
            .latency(Duration::from_millis(self.latency_ms.unwrap_or(0)))
            .faults(FaultPlan {
                fail_puts: self.fail_puts,
                drop_puts_after: self.drop_puts_after,
                stall_puts: self.stall_puts,
                omit_etag: self.omit_etag,
                fail_api: self.fail_api,
                corrupt_puts: self.corrupt_puts,
            })
            .complete_delay(self.complete_delay)
            .early_answer(self.early_answer)
            .log_requests(self.log_requests);
        if let Some((cert_pem, cert, key_pem, key)) = tls {
            builder = builder.tls_files(cert_pem, cert, key_pem, key);
        }
        if let Some(host) = self.public_host {
            builder = builder.public_host(host);
        }
        Ok(match self.outage {
            Some(o) => builder.outage(o.kind, o.duration, o.after),
            None => builder,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SandboxArgs,
    }

    #[test]
    fn flags_map_onto_the_builder() {
        let cli = Cli::try_parse_from([
            "tl-sandbox",
            "--api-key",
            "k",
            "--listen",
            "127.0.0.1:0",
            "--chunk-size",
            "1048576",
            "--url-ttl",
            "1.5",
            "--storage",
            "disk:/tmp/x",
            "--fail-puts",
            "2:503",
            "--fail-api",
            "1:429:3",
            "--stall-puts",
            "1:0.25",
            "--bandwidth",
            "0",
            "--link-rate",
            "4000000",
            "--corrupt-puts",
            "2",
            "--complete-delay",
            "1.5",
            "--early-answer",
            "--outage",
            "blackhole:2@0.5",
        ])
        .unwrap();
        assert!(!format!("{:?}", cli.args).contains("\"k\""));
        let builder = cli.args.into_builder().unwrap();
        assert_eq!(builder.chunk_size, 1_048_576);
        assert_eq!(builder.url_ttl, Duration::from_millis(1500));
        assert_eq!(builder.storage, Storage::Disk("/tmp/x".into()));
        assert_eq!(builder.faults.fail_puts, Some((2, 503)));
        assert_eq!(
            builder.faults.fail_api,
            Some((1, 429, Some(Duration::from_secs(3))))
        );
        assert_eq!(builder.bandwidth, None);
        assert_eq!(builder.link_rate, Some(4_000_000));
        assert_eq!(builder.session_ttl, Duration::from_secs(86_400));
        assert_eq!(builder.faults.corrupt_puts, 2);
        assert_eq!(builder.complete_delay, Duration::from_millis(1500));
        assert!(builder.early_answer);
        assert_eq!(
            builder.outage,
            Some(OutageSpec {
                kind: crate::faults::OutageKind::Blackhole,
                duration: Duration::from_secs(2),
                after: Duration::from_millis(500),
            })
        );
    }

    /// The builder of `tl-sandbox --api-key k` plus `extra`, or the error of `into_builder`.
    fn builder_of(extra: &[&str]) -> Result<SandboxBuilder, String> {
        let mut argv = vec!["tl-sandbox", "--api-key", "k"];
        argv.extend(extra);
        Cli::try_parse_from(argv).unwrap().args.into_builder()
    }

    #[test]
    fn tls_takes_both_files_or_neither_and_names_the_one_it_cannot_read() {
        let alone = builder_of(&["--tls-cert", "c.pem"]).unwrap_err();
        assert!(alone.contains("--tls-cert needs --tls-key"), "{alone}");
        let alone = builder_of(&["--tls-key", "k.pem"]).unwrap_err();
        assert!(alone.contains("--tls-key needs --tls-cert"), "{alone}");
        assert!(builder_of(&[]).unwrap().tls.is_none());

        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let missing = dir.path().join("missing.pem");
        std::fs::write(&cert, "not PEM at all").unwrap();
        let (cert, missing) = (cert.to_str().unwrap(), missing.to_str().unwrap());
        let unreadable = builder_of(&["--tls-cert", cert, "--tls-key", missing]).unwrap_err();
        assert!(
            unreadable.starts_with(&format!("cannot read --tls-key `{missing}`: ")),
            "{unreadable}"
        );

        // Readable but not a certificate: `start` says which file and why.
        let builder = builder_of(&["--tls-cert", cert, "--tls-key", cert]).unwrap();
        let error = builder.start().unwrap_err().to_string();
        assert!(
            error.contains(&format!("--tls-cert `{cert}`")) && error.contains("no certificate"),
            "{error}"
        );
    }

    #[test]
    fn the_public_host_flag_reaches_the_builder() {
        let builder = builder_of(&["--public-host", "sandbox.test"]).unwrap();
        assert_eq!(builder.public_host.as_deref(), Some("sandbox.test"));
    }

    #[test]
    fn bad_specs_are_refused_by_clap() {
        for bad in [
            ["--fail-puts", "x"],
            ["--url-ttl", "-1"],
            ["--storage", "s3"],
            ["--outage", "down:2"],
            ["--complete-delay", "-1"],
        ] {
            let mut argv = vec!["tl-sandbox", "--api-key", "k"];
            argv.extend(bad);
            assert!(Cli::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }
}
