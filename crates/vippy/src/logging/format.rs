//! What a log line looks like on each driver: the console line, the RFC 3164
//! syslog datagram and the journal's native protocol, from one [`Entry`].
//! Formatting happens on the log writer's thread; the event's time is taken
//! when it was logged, not when it is written.

use std::fmt::Write as _;
use std::time::SystemTime;

use vippy_core::config::{Facility, Severity};

use super::{ConsoleStyle, IDENT, is_vippy};

/// Syslog datagrams longer than this are cut: rsyslog's default limit.
const SYSLOG_MAX: usize = 8192;
/// A journal field value longer than this is cut, which keeps every entry
/// in one datagram (no memfd needed for vippy's short lines).
const JOURNAL_VALUE_MAX: usize = 48 * 1024;

/// One field of an event or span, as text.
#[derive(Debug, Clone)]
pub(super) struct FieldValue {
    pub name: &'static str,
    pub value: String,
    /// Recorded as a string: shown quoted when it has spaces or quotes.
    pub is_str: bool,
}

/// An event, ready to format: owned, so it can wait in the queue.
#[derive(Debug)]
pub(super) struct Entry {
    pub time: SystemTime,
    pub severity: Severity,
    pub target: &'static str,
    pub file: Option<&'static str>,
    pub line: Option<u32>,
    pub message: String,
    /// Event fields, then span fields (root first), then `node`.
    pub fields: Vec<FieldValue>,
}

/// Message and ` key=value` fields on one line.
pub(super) fn text(entry: &Entry) -> String {
    let mut out = one_line(&entry.message);
    if !is_vippy(entry.target) {
        let _ = write!(out, " target={}", entry.target);
    }
    for f in &entry.fields {
        let plain = !f.value.is_empty()
            && !f
                .value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '=');
        if f.is_str && !plain {
            let _ = write!(out, " {}={:?}", f.name, f.value);
        } else {
            let _ = write!(out, " {}={}", f.name, one_line(&f.value));
        }
    }
    out
}

/// Control characters would split a line: shown escaped instead.
fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

pub(super) fn console_line(entry: &Entry, style: ConsoleStyle) -> String {
    match style {
        ConsoleStyle::Plain => format!(
            "{} {:<7} {}\n",
            rfc3339_utc(entry.time),
            entry.severity.name(),
            text(entry)
        ),
        ConsoleStyle::Journal => format!("<{}>{}\n", entry.severity as u8, text(entry)),
    }
}

/// `2026-05-14T10:11:12.345678Z`.
fn rfc3339_utc(time: SystemTime) -> String {
    match jiff::Timestamp::try_from(time) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        Err(_) => "1970-01-01T00:00:00.000000Z".to_string(),
    }
}

/// `<PRI>Mmm dd hh:mm:ss vippyd[PID]: text` (RFC 3164 §4.1, as glibc's
/// `syslog(3)` sends it), at most [`SYSLOG_MAX`] bytes.
pub(super) fn syslog_datagram(entry: &Entry, facility: Facility, timestamp: &str) -> String {
    let pri = u32::from(facility.code()) * 8 + entry.severity as u32;
    let mut out = format!(
        "<{pri}>{timestamp} {IDENT}[{}]: {}",
        std::process::id(),
        text(entry)
    );
    truncate(&mut out, SYSLOG_MAX);
    out
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// `Mmm dd hh:mm:ss` in local time, day padded with a space (RFC 3164 §4.1.2).
/// Local time is `TZ` or else `/etc/localtime`, as for `localtime(3)`; UTC when
/// neither can be read.
pub(super) fn local_timestamp(time: SystemTime) -> String {
    let zoned = jiff::Timestamp::try_from(time)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(jiff::tz::TimeZone::system());
    rfc3164_time(&zoned)
}

fn rfc3164_time(time: &jiff::ZonedDateTime) -> String {
    time.strftime("%b %e %H:%M:%S").to_string()
}

/// Journal fields vippy sets itself; an event field of the same name is
/// sent as `FIELD_<NAME>` instead.
const JOURNAL_OWN: &[&str] = &[
    "MESSAGE",
    "PRIORITY",
    "SYSLOG_IDENTIFIER",
    "SYSLOG_FACILITY",
    "SYSLOG_PID",
    "TARGET",
    "CODE_FILE",
    "CODE_LINE",
];

/// The journal's native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL).
pub(super) fn journal_payload(entry: &Entry, facility: Facility) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    put_journal_field(&mut out, "MESSAGE", &entry.message);
    put_journal_field(&mut out, "PRIORITY", &(entry.severity as u8).to_string());
    put_journal_field(&mut out, "SYSLOG_IDENTIFIER", IDENT);
    put_journal_field(&mut out, "SYSLOG_FACILITY", &facility.code().to_string());
    put_journal_field(&mut out, "SYSLOG_PID", &std::process::id().to_string());
    put_journal_field(&mut out, "TARGET", entry.target);
    if let Some(file) = entry.file {
        put_journal_field(&mut out, "CODE_FILE", file);
    }
    if let Some(line) = entry.line {
        put_journal_field(&mut out, "CODE_LINE", &line.to_string());
    }
    for f in &entry.fields {
        let mut name = journal_field_name(f.name);
        if JOURNAL_OWN.contains(&name.as_str()) {
            name = format!("FIELD_{name}");
        }
        put_journal_field(&mut out, &name, &f.value);
    }
    out
}

/// Upper case letters, digits and `_`, not starting with `_` or a digit,
/// at most 64 bytes (journal-fields(7)).
fn journal_field_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches(|c: char| c == '_' || c.is_ascii_digit())
        .to_string();
    if out.is_empty() {
        out = "FIELD".to_string();
    }
    out.truncate(64);
    out
}

fn put_journal_field(out: &mut Vec<u8>, name: &str, value: &str) {
    let mut value = value.to_string();
    truncate(&mut value, JOURNAL_VALUE_MAX);
    out.extend_from_slice(name.as_bytes());
    if value.contains('\n') {
        // Binary-safe form: name, newline, little-endian length, value.
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        out.push(b'=');
    }
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(message: &str, fields: Vec<(&'static str, &str, bool)>) -> Entry {
        Entry {
            time: SystemTime::UNIX_EPOCH,
            severity: Severity::Notice,
            target: "vippy::runtime",
            file: Some("src/runtime.rs"),
            line: Some(7),
            message: message.to_string(),
            fields: fields
                .into_iter()
                .map(|(name, value, is_str)| FieldValue {
                    name,
                    value: value.to_string(),
                    is_str,
                })
                .collect(),
        }
    }

    #[test]
    fn text_quotes_strings_with_spaces_only() {
        let e = entry(
            "drained",
            vec![("reason", "kernel upgrade", true), ("group", "3", false)],
        );
        assert_eq!(text(&e), "drained reason=\"kernel upgrade\" group=3");
        let e = entry("a\nb", vec![("empty", "", true)]);
        assert_eq!(text(&e), "a\\nb empty=\"\"");
    }

    #[test]
    fn console_time_is_the_events_in_utc_with_microseconds() {
        let mut e = entry("up", vec![]);
        e.time =
            SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(1_778_753_472_345_678_901);
        assert_eq!(
            console_line(&e, ConsoleStyle::Plain),
            "2026-05-14T10:11:12.345678Z notice  up\n"
        );
    }

    #[test]
    fn syslog_datagram_has_pri_tag_and_pid() {
        let e = entry("up", vec![("ip", "198.51.100.10/24", false)]);
        let d = syslog_datagram(&e, Facility::Local(7), "May  4 10:11:12");
        // local7 = 23; 23 * 8 + notice (5) = 189.
        let want = format!(
            "<189>May  4 10:11:12 vippyd[{}]: up ip=198.51.100.10/24",
            std::process::id()
        );
        assert_eq!(d, want);
    }

    #[test]
    fn journal_names_are_sanitised() {
        assert_eq!(journal_field_name("group"), "GROUP");
        assert_eq!(journal_field_name("_x.y-z"), "X_Y_Z");
        assert_eq!(journal_field_name("9lives"), "LIVES");
        assert_eq!(journal_field_name("__"), "FIELD");
    }

    #[test]
    fn journal_multiline_values_use_the_length_form() {
        let mut out = Vec::new();
        put_journal_field(&mut out, "MESSAGE", "a\nb");
        let mut want = b"MESSAGE\n".to_vec();
        want.extend_from_slice(&3u64.to_le_bytes());
        want.extend_from_slice(b"a\nb\n");
        assert_eq!(out, want);
    }

    #[test]
    fn own_journal_fields_are_not_overwritten() {
        let e = entry("m", vec![("priority", "high", true)]);
        let p = String::from_utf8(journal_payload(&e, Facility::Daemon)).unwrap();
        assert!(p.contains("PRIORITY=5\n"), "{p}");
        assert!(p.contains("FIELD_PRIORITY=high\n"), "{p}");
    }

    #[test]
    fn local_timestamp_has_the_rfc3164_shape() {
        let t = local_timestamp(SystemTime::now());
        assert_eq!(t.len(), 15, "{t}");
        assert_eq!(&t[3..4], " ");
        assert_eq!(&t[9..10], ":");
    }

    #[test]
    fn rfc3164_time_pads_the_day_with_a_space() {
        let at = |s: &str| s.parse::<jiff::ZonedDateTime>().unwrap();
        assert_eq!(
            rfc3164_time(&at("2026-03-05T07:08:09+01:00[+01:00]")),
            "Mar  5 07:08:09"
        );
        assert_eq!(
            rfc3164_time(&at("2025-12-31T23:59:59-05:00[-05:00]")),
            "Dec 31 23:59:59"
        );
    }
}
