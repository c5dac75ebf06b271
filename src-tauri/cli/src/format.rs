//! Text for people: sizes, rates, durations, dates, tables and shell words.

use std::fmt::Write as _;
use std::sync::OnceLock;

use indicatif::HumanBytes;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// The local time zone's offset, read once at startup (see [`read_local_offset`]).
static LOCAL_OFFSET: OnceLock<Option<UtcOffset>> = OnceLock::new();

/// Reads the local time zone's offset for [`local_offset`]. Called by `main` before the
/// async runtime starts its threads: on Unix the offset can only be read safely while the
/// process has a single thread, and is unknown otherwise.
pub fn read_local_offset() {
    LOCAL_OFFSET.get_or_init(|| UtcOffset::current_local_offset().ok());
}

/// The local time zone's offset, when it could be read at startup.
pub fn local_offset() -> Option<UtcOffset> {
    LOCAL_OFFSET.get().copied().flatten()
}

/// `14:02:07`: the time of day of `at` in the time zone `offset`.
pub fn clock(at: OffsetDateTime, offset: UtcOffset) -> String {
    let format = format_description!("[hour]:[minute]:[second]");
    at.to_offset(offset)
        .format(&format)
        .unwrap_or_else(|_| at.to_string())
}

/// `5.50 MiB`, the same units as the progress bar.
pub fn bytes(n: u64) -> String {
    HumanBytes(n).to_string()
}

/// `48.20 MiB/s`.
pub fn rate(bytes_per_second: f64) -> String {
    // Rates are never negative or absurd; the cast saturates either way.
    format!("{}/s", HumanBytes(bytes_per_second.max(0.0) as u64))
}

/// `0.4s`, `42s`, `3m 05s`, `2h 04m`: short and readable at a glance.
pub fn duration(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    if seconds < 9.95 {
        return format!("{seconds:.1}s");
    }
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `2026-11-25 06:47:01 UTC`, or `-` when absent.
pub fn date(at: Option<OffsetDateTime>) -> String {
    let Some(at) = at else { return "-".to_owned() };
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| at.to_string())
}

/// `in 23h 59m` or `5m 02s ago`, relative to `now`.
pub fn relative(at: Option<OffsetDateTime>, now: OffsetDateTime) -> String {
    let Some(at) = at else { return "-".to_owned() };
    let delta = (at - now).as_seconds_f64();
    if delta >= 0.0 {
        format!("in {}", duration(delta))
    } else {
        format!("{} ago", duration(-delta))
    }
}

/// Columns padded to their widest cell, two spaces apart; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count());
                let _ = write!(out, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

/// A word a POSIX shell reads back unchanged, so printed commands can be pasted.
pub fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A file name short enough for the progress bar's prefix, keeping the end (the extension).
pub fn short_name(name: &str, max: usize) -> String {
    let count = name.chars().count();
    if count <= max {
        return name.to_owned();
    }
    let tail: String = name.chars().skip(count - (max - 1)).collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_rates_and_durations() {
        assert_eq!(bytes(5_767_168), "5.50 MiB");
        assert_eq!(bytes(12), "12 B");
        assert_eq!(rate(1_048_576.0), "1.00 MiB/s");
        assert_eq!(rate(-3.0), "0 B/s");
        assert_eq!(duration(0.43), "0.4s");
        assert_eq!(duration(42.4), "42s");
        assert_eq!(duration(185.0), "3m 05s");
        assert_eq!(duration(7440.0), "2h 04m");
    }

    #[test]
    fn dates_absolute_and_relative() {
        let at = OffsetDateTime::from_unix_timestamp(1_778_051_289).unwrap();
        assert_eq!(date(Some(at)), "2026-05-06 07:08:09 UTC");
        assert_eq!(date(None), "-");
        let later = at + time::Duration::seconds(65);
        assert_eq!(relative(Some(later), at), "in 1m 05s");
        assert_eq!(relative(Some(at), later), "1m 05s ago");
    }

    #[test]
    fn clocks_show_the_time_of_day_in_the_offset() {
        let at = OffsetDateTime::from_unix_timestamp(1_778_051_289).unwrap();
        assert_eq!(clock(at, UtcOffset::UTC), "07:08:09");
        let cest = UtcOffset::from_hms(2, 0, 0).unwrap();
        assert_eq!(clock(at, cest), "09:08:09");
    }

    #[test]
    fn tables_align() {
        let t = table(&["ID", "SIZE"], &[vec!["abc".into(), "1 B".into()]]);
        assert_eq!(t, "ID   SIZE\nabc  1 B\n");
    }

    #[test]
    fn shell_words_round_trip() {
        assert_eq!(shell_word("/tmp/a.mp4"), "/tmp/a.mp4");
        assert_eq!(shell_word("my clip.mp4"), "'my clip.mp4'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn short_names_keep_the_extension() {
        assert_eq!(short_name("a.mp4", 10), "a.mp4");
        let s = short_name("a-very-long-recording-name.mp4", 12);
        assert_eq!(s.chars().count(), 12);
        assert!(s.ends_with(".mp4") && s.starts_with('…'));
    }
}
