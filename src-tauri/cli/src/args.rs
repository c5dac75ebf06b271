//! The command line, as clap sees it.
//!
//! Connection flags (`--api-key`, `--base-url`, `--sandbox`, `--journal`, `--json`) are
//! accepted both before the command (`tlup --json upload f.mp4`) and after it
//! (`tlup upload --json f.mp4`).
//! They are not clap `global` flags because `tlup sandbox` embeds the sandbox's own flags,
//! which include a different `--api-key` (the key the sandbox *requires*).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{Map, Number, Value};
use tl_sandbox::cli::SandboxArgs;
use tl_upload::{FileType, Parallelism};

/// Uploads large video files to TwelveLabs with the multipart upload protocol: streamed,
/// parallel, resumable.
///
/// Without an API key and a base URL, tlup runs against a local sandbox that speaks the
/// same protocol, so nothing leaves the computer.
#[derive(Debug, Parser)]
#[command(name = "tlup", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where to connect and how to print, given before the command. These also read the
/// environment.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectionArgs {
    /// The TwelveLabs API key.
    #[arg(
        long,
        value_name = "KEY",
        env = "TWELVELABS_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// The API base URL, version prefix included [default: https://api.twelvelabs.io/v1.3].
    #[arg(long, value_name = "URL", env = "TWELVELABS_BASE_URL")]
    pub base_url: Option<String>,
    /// Run against a local sandbox started inside tlup (nothing leaves this computer; its
    /// sessions end when tlup exits).
    #[arg(long)]
    pub sandbox: bool,
    /// The upload journal, where sessions and stored chunks are recorded so that `tlup
    /// resume` can finish them after a crash [default: tl-uploader/journal.sqlite3 in the
    /// user's data directory].
    #[arg(long, value_name = "PATH", env = "TLUP_JOURNAL")]
    pub journal: Option<PathBuf>,
    /// Print one JSON object per line on stdout instead of text and progress bars.
    #[arg(long)]
    pub json: bool,
    /// Trust the certificates in this PEM file too, beside the system's trust store (for a
    /// TLS-inspecting proxy whose root certificate is not installed).
    #[arg(long, value_name = "FILE", env = "TLUP_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Say more on stderr about what tlup does, such as the proxy in use and whether the
    /// computer is kept awake.
    #[arg(short, long)]
    pub verbose: bool,
}

/// The same connection flags, given after the command. No environment here: the values
/// before the command already read it, and an environment value must not override a flag.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Connection")]
pub struct LocalConnectionArgs {
    /// The TwelveLabs API key [env: TWELVELABS_API_KEY].
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// The API base URL, version prefix included [env: TWELVELABS_BASE_URL].
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Run against a local sandbox started inside tlup.
    #[arg(long)]
    pub sandbox: bool,
    /// The upload journal [env: TLUP_JOURNAL].
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Print one JSON object per line on stdout.
    #[arg(long)]
    pub json: bool,
    /// Trust the certificates in this PEM file too [env: TLUP_CA_CERT].
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Say more on stderr about what tlup does.
    #[arg(short, long)]
    pub verbose: bool,
}

impl ConnectionArgs {
    /// These flags with the ones given after the command taking precedence.
    pub fn merged(mut self, local: &LocalConnectionArgs) -> Self {
        if local.api_key.is_some() {
            self.api_key.clone_from(&local.api_key);
        }
        if local.base_url.is_some() {
            self.base_url.clone_from(&local.base_url);
        }
        if local.journal.is_some() {
            self.journal.clone_from(&local.journal);
        }
        if local.ca_cert.is_some() {
            self.ca_cert.clone_from(&local.ca_cert);
        }
        self.sandbox |= local.sandbox;
        self.json |= local.json;
        self.verbose |= local.verbose;
        self
    }

    /// Whether these flags select the sandbox started inside tlup: asked for with
    /// `--sandbox`, or implied by the absence of both a key and a base URL.
    pub fn uses_embedded_sandbox(&self) -> bool {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        self.sandbox || (!given(&self.api_key) && !given(&self.base_url))
    }
}

/// What tlup does.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload one or more files: all start at once and share the link, earlier files first.
    Upload(UploadArgs),
    /// List the uploads that can be resumed, or resume one: only missing chunks are sent.
    Resume(ResumeArgs),
    /// Drop an unfinished upload from the journal, so `tlup resume` no longer offers it.
    Forget(ForgetArgs),
    /// Show an upload session's status.
    Status(StatusArgs),
    /// List the account's incomplete upload sessions.
    List(ListArgs),
    /// Wait until an upload session is complete.
    Wait(WaitArgs),
    /// Show an asset (and wait until it is ready).
    Asset(AssetArgs),
    /// Run a local sandbox server in the foreground until Ctrl-C.
    Sandbox(SandboxCommandArgs),
}

/// `tlup upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The files to upload. All start at once, in order: each begins as soon as the files
    /// before it leave room on the link, and earlier files keep priority.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub session: SessionArgs,
    #[command(flatten)]
    pub transfer: TransferArgs,
    /// The most files creating their session or sending chunks at once; the others wait
    /// their turn, in order.
    #[arg(long, value_name = "N", default_value_t = 16, help_heading = "Transfer",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub max_files: u16,
    #[command(flatten)]
    pub connection: LocalConnectionArgs,
}

/// What a new session asks the platform for.
#[derive(Debug, Args)]
#[command(next_help_heading = "Asset")]
pub struct SessionArgs {
    /// The kind of media.
    #[arg(long, value_name = "video|audio|image", default_value = "video",
          value_parser = parse_file_type)]
    pub file_type: FileType,
    /// The name the platform shows (only with one FILE) [default: the file's name].
    #[arg(long, value_name = "NAME")]
    pub filename: Option<String>,
    /// Ask for an HLS rendition.
    #[arg(long)]
    pub hls: bool,
    /// Ask for a thumbnail.
    #[arg(long)]
    pub thumbnail: bool,
    /// User metadata; repeatable. Values that read as integers, numbers or true/false are
    /// sent as such.
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_metadata)]
    pub metadata: Vec<(String, Value)>,
}

/// How chunks move; shared by `upload` and `resume`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Transfer")]
pub struct TransferArgs {
    /// Chunk uploads in flight at once, over all files: `auto` measures the link while
    /// uploading, settles on the number it carries best, and keeps that level per API host
    /// (in the journal) to start from next time; a number from 1 to 64 fixes it.
    #[arg(long, value_name = "auto|N", default_value = "auto", value_parser = parse_workers)]
    pub workers: Parallelism,
    /// Limit the bandwidth of all files together: bytes per second (1500000) or a number
    /// with a unit, such as 500KB/s, 5MB/s, 2MiB/s or 10Mbit/s (KB, MB, GB are powers of
    /// 1000, KiB, MiB, GiB of 1024; bit units are bytes ÷ 8; `/s` may be left out). 0 or
    /// `none`: no limit [default: none].
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub limit_rate: Option<u64>,
    /// The most chunks per report call.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub batch_size: u16,
    /// Retries per chunk after a failure.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_retries: u32,
    /// Backoff base between retries, in seconds.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_secs)]
    pub retry_delay: Duration,
    /// Abandon and retry a chunk whose connection moves no bytes for this long, in seconds.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_positive_secs)]
    pub stall_timeout: Duration,
    /// After the last chunk is reported, how long to keep asking until the platform says
    /// the session is complete, in seconds (assembling a large file takes a while).
    #[arg(long, value_name = "SECS", default_value = "600", value_parser = parse_positive_secs)]
    pub confirm_timeout: Duration,
    /// How long to wait for a network that went away before giving up (the session stays
    /// resumable), in seconds; by default, as long as the session lives.
    #[arg(long, value_name = "SECS", value_parser = parse_positive_secs)]
    pub offline_limit: Option<Duration>,
    /// The longest pause between two checks of whether the network is back, in seconds
    /// (the first check comes after a second, then they double up to this).
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_positive_secs)]
    pub probe_interval: Duration,
    /// After the upload, wait until the asset is ready.
    #[arg(long)]
    pub wait: bool,
    /// Let the computer fall asleep when idle while uploading. By default tlup asks the
    /// system to keep it awake until the transfer ends (the display may still turn off);
    /// where the system cannot be asked, the upload goes on anyway (-v says why).
    #[arg(long)]
    pub no_keep_awake: bool,
}

/// `tlup resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The session to resume; without it, the sessions that can be resumed are listed.
    pub upload_id: Option<String>,
    /// The session's file: needed when the file moved, or when the journal does not know
    /// the session (it was started elsewhere).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub transfer: TransferArgs,
    #[command(flatten)]
    pub connection: LocalConnectionArgs,
}

/// `tlup forget`.
#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// The session to drop from the journal.
    pub upload_id: String,
    #[command(flatten)]
    pub connection: LocalConnectionArgs,
}

/// `tlup status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The session.
    pub upload_id: String,
    /// List every chunk.
    #[arg(long)]
    pub chunks: bool,
    #[command(flatten)]
    pub connection: LocalConnectionArgs,
}

/// `tlup list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub connection: LocalConnectionArgs,
}

/// `tlup wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The session.
    pub upload_id: String,
    /// Seconds between status calls.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_positive_secs)]
    pub interval: Duration,
    /// Give up after this many seconds (exit code 1).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<Duration>,
    #[command(flatten)]
    pub connection: LocalConnectionArgs,
}

/// `tlup asset`.
#[derive(Debug, Args)]
pub struct AssetArgs {
    /// The asset.
    pub asset_id: String,
    /// Poll until the asset is ready (or failed).
    #[arg(long)]
    pub wait: bool,
    /// Seconds between polls with --wait.
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = parse_positive_secs)]
    pub interval: Duration,
    /// Give up waiting after this many seconds (exit code 1).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<Duration>,
    #[command(flatten)]
    pub connection: LocalConnectionArgs,
}

/// `tlup sandbox`: the flags of the `tl-sandbox` binary.
#[derive(Debug, Args)]
pub struct SandboxCommandArgs {
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// One of the three media kinds. Explicit, because `FileType` also converts from any
/// string (keeping unknown server values), which clap would otherwise use and accept all.
fn parse_file_type(text: &str) -> Result<FileType, String> {
    text.parse()
}

/// `auto` (or `automatic`) or a fixed number of chunk uploads, 1–64.
fn parse_workers(text: &str) -> Result<Parallelism, String> {
    text.parse::<Parallelism>().map_err(|_| {
        format!("`{text}` is neither `auto` nor a number of chunk uploads from 1 to 64")
    })
}

/// What `--limit-rate` accepts, for its error messages.
const RATE_FORMS: &str = "give bytes per second (1500000) or a number with a unit: B, KB, MB, GB (powers of 1000), KiB, MiB, GiB (powers of 1024), or bit, Kbit, Mbit, Gbit, Kibit, Mibit, Gibit (bits), optionally followed by /s, as in 500KB/s, 5MB/s, 2MiB/s or 10Mbit/s; 0 or `none` for no limit";

/// A bandwidth in bytes per second: a plain number of bytes per second, or a number (with
/// fractions) and a unit, case-insensitive, `/s` optional. 0 (`none`) means no limit.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a rate: {RATE_FORMS}");
    let lower = text.trim().to_ascii_lowercase();
    if lower == "none" {
        return Ok(0);
    }
    let spec = lower.strip_suffix("/s").unwrap_or(&lower).trim_end();
    let split = spec
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(spec.len());
    let (number, unit) = spec.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let per_unit = match unit.trim_start() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "bit" | "bits" => 1.0 / 8.0,
        "kbit" | "kbits" => 1e3 / 8.0,
        "mbit" | "mbits" => 1e6 / 8.0,
        "gbit" | "gbits" => 1e9 / 8.0,
        "kibit" | "kibits" => 1024.0 / 8.0,
        "mibit" | "mibits" => 1024.0 * 1024.0 / 8.0,
        "gibit" | "gibits" => 1024.0 * 1024.0 * 1024.0 / 8.0,
        _ => return Err(bad()),
    };
    let bytes = (number * per_unit).round();
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!(
            "`{text}` is more than any link carries; {RATE_FORMS}"
        ));
    }
    if bytes < 1.0 && number > 0.0 {
        return Err(format!(
            "`{text}` is less than one byte per second; give a higher rate, or 0 for no limit"
        ));
    }
    // In range and not negative: the parse above took no sign.
    Ok(bytes as u64)
}

/// Seconds, fractions allowed, at least 0.
fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("`{text}` must be between 0 and 1e9 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Seconds above 0.
fn parse_positive_secs(text: &str) -> Result<Duration, String> {
    let d = parse_secs(text)?;
    if d.is_zero() {
        return Err("must be above 0 seconds".into());
    }
    Ok(d)
}

/// `KEY=VALUE`, with the value typed the way a user means it: `3` is a number, `true` a
/// boolean, anything else a string (quote nothing; `"3"` would keep its quotes).
fn parse_metadata(text: &str) -> Result<(String, Value), String> {
    let Some((key, raw)) = text.split_once('=') else {
        return Err(format!("`{text}` is not KEY=VALUE"));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("`{text}` has an empty key"));
    }
    let value = if let Ok(i) = raw.parse::<i64>() {
        Value::from(i)
    } else if let Some(n) = raw
        .parse::<f64>()
        .ok()
        // Words such as `inf` or `nan` parse as floats but are not numbers a user means.
        .filter(|f| f.is_finite() && raw.bytes().any(|b| b.is_ascii_digit()))
        .and_then(Number::from_f64)
    {
        Value::Number(n)
    } else if raw == "true" || raw == "false" {
        Value::Bool(raw == "true")
    } else {
        Value::from(raw)
    };
    Ok((key.to_owned(), value))
}

/// The metadata pairs as a JSON object (a repeated key keeps its last value), or `None`.
pub fn metadata_object(pairs: &[(String, Value)]) -> Option<Map<String, Value>> {
    if pairs.is_empty() {
        return None;
    }
    Some(pairs.iter().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn metadata_values_are_typed() {
        assert_eq!(parse_metadata("n=3").unwrap(), ("n".into(), Value::from(3)));
        assert_eq!(parse_metadata("x=2.5").unwrap().1, Value::from(2.5));
        assert_eq!(parse_metadata("b=true").unwrap().1, Value::Bool(true));
        assert_eq!(
            parse_metadata("s=hello=world").unwrap().1,
            Value::from("hello=world")
        );
        assert_eq!(parse_metadata("s=inf").unwrap().1, Value::from("inf"));
        assert_eq!(parse_metadata("s=").unwrap().1, Value::from(""));
        assert!(parse_metadata("novalue").is_err());
        assert!(parse_metadata("=v").is_err());
        let map = metadata_object(&[("a".into(), 1.into()), ("a".into(), 2.into())]).unwrap();
        assert_eq!(map["a"], 2);
    }

    #[test]
    fn flags_after_the_command_win() {
        let cli = Cli::try_parse_from([
            "tlup",
            "--api-key",
            "a",
            "--json",
            "upload",
            "--api-key",
            "b",
            "f",
        ])
        .unwrap();
        let Command::Upload(up) = cli.command else {
            panic!("not upload")
        };
        let merged = cli.connection.merged(&up.connection);
        assert_eq!(merged.api_key.as_deref(), Some("b"));
        assert!(merged.json);
        let cli = Cli::try_parse_from(["tlup", "--journal", "a", "forget", "--journal", "b", "u"])
            .unwrap();
        let Command::Forget(forget) = cli.command else {
            panic!("not forget")
        };
        let merged = cli.connection.merged(&forget.connection);
        assert_eq!(merged.journal, Some(PathBuf::from("b")));
    }

    #[test]
    fn the_embedded_sandbox_is_used_without_a_key_and_a_url() {
        let mut args = ConnectionArgs::default();
        assert!(args.uses_embedded_sandbox());
        args.api_key = Some("k".into());
        assert!(!args.uses_embedded_sandbox());
        args.sandbox = true;
        assert!(args.uses_embedded_sandbox());
    }

    #[test]
    fn file_types_are_checked() {
        assert_eq!(parse_file_type("Audio").unwrap(), FileType::Audio);
        assert!(parse_file_type("movie").is_err());
    }

    #[test]
    fn rates_read_every_documented_form() {
        for (text, bytes) in [
            ("1500000", 1_500_000),
            ("5MB/s", 5_000_000),
            ("5mb", 5_000_000),
            ("500KB/s", 500_000),
            ("2MiB/s", 2 * 1024 * 1024),
            ("2 mib/S", 2 * 1024 * 1024),
            ("1.5GB/s", 1_500_000_000),
            ("10Mbit/s", 1_250_000),
            ("10MBIT", 1_250_000),
            ("8bit/s", 1),
            ("1Kibit", 128),
            ("1GiB/s", 1 << 30),
            ("12B/s", 12),
            (" 300 KB/s ", 300_000),
            ("0", 0),
            ("0MB/s", 0),
            ("none", 0),
            ("None", 0),
        ] {
            assert_eq!(parse_rate(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn bad_rates_say_what_is_accepted() {
        for text in [
            "fast", "", "/s", "MB/s", "5 MB/h", "5M", "-5MB/s", "1.2.3MB", "5MBps", "5 M B",
        ] {
            let e = parse_rate(text).unwrap_err();
            assert!(e.contains("5MB/s") && e.contains("none"), "{text}: {e}");
        }
        assert!(
            parse_rate("1bit/s")
                .unwrap_err()
                .contains("less than one byte")
        );
        assert!(parse_rate("1e30GB").is_err());
        assert!(
            parse_rate("99999999999999999999999GB")
                .unwrap_err()
                .contains("more than")
        );
    }

    #[test]
    fn workers_are_auto_or_1_to_64() {
        assert_eq!(parse_workers("auto"), Ok(Parallelism::Auto));
        assert_eq!(parse_workers("AUTOMATIC"), Ok(Parallelism::Auto));
        assert_eq!(parse_workers("64"), Ok(Parallelism::Fixed(64)));
        for bad in ["0", "65", "many", "-1", ""] {
            let e = parse_workers(bad).unwrap_err();
            assert!(e.contains("auto") && e.contains("1 to 64"), "{bad}: {e}");
        }
        let cli = Cli::try_parse_from(["tlup", "upload", "f"]).unwrap();
        let Command::Upload(up) = cli.command else {
            panic!("not upload")
        };
        assert_eq!(up.transfer.workers, Parallelism::Auto, "auto by default");
        assert_eq!(up.transfer.limit_rate, None, "no limit by default");
        assert_eq!(up.max_files, 16);
        assert!(!up.transfer.no_keep_awake, "kept awake by default");
    }

    #[test]
    fn keep_awake_can_be_turned_off_and_verbose_given_on_either_side() {
        let cli = Cli::try_parse_from(["tlup", "-v", "upload", "--no-keep-awake", "f"]).unwrap();
        let Command::Upload(up) = cli.command else {
            panic!("not upload")
        };
        assert!(up.transfer.no_keep_awake);
        assert!(cli.connection.merged(&up.connection).verbose);
        let cli =
            Cli::try_parse_from(["tlup", "resume", "u", "--verbose", "--no-keep-awake"]).unwrap();
        let Command::Resume(resume) = cli.command else {
            panic!("not resume")
        };
        assert!(resume.transfer.no_keep_awake);
        assert!(cli.connection.merged(&resume.connection).verbose);
        let help = Cli::command()
            .find_subcommand_mut("upload")
            .map(|c| c.render_long_help().to_string())
            .unwrap_or_default();
        assert!(help.contains("--no-keep-awake"), "{help}");
    }

    #[test]
    fn seconds_are_checked() {
        assert_eq!(parse_secs("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("x").is_err());
        assert!(parse_positive_secs("0").is_err());
    }
}
