//! Parameter values with a fixed vocabulary (PROTOCOL §2.4): flags, call direction and
//! date-times.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// `Y`/`N`, `YES`/`NO`, `TRUE`/`FALSE`, `1`/`0`, in any case.
pub fn parse_flag(value: &str) -> Option<bool> {
    const YES: [&str; 4] = ["Y", "YES", "TRUE", "1"];
    const NO: [&str; 4] = ["N", "NO", "FALSE", "0"];
    let value = value.trim();
    if YES.iter().any(|y| y.eq_ignore_ascii_case(value)) {
        Some(true)
    } else if NO.iter().any(|n| n.eq_ignore_ascii_case(value)) {
        Some(false)
    } else {
        None
    }
}

/// CALLDIRECTION: `I`/`O`, `IN`/`OUT`, `INBOUND`/`OUTBOUND`, in any case, as `"I"` or `"O"`.
pub fn parse_direction(value: &str) -> Option<&'static str> {
    let value = value.trim();
    if ["I", "IN", "INBOUND"]
        .iter()
        .any(|d| d.eq_ignore_ascii_case(value))
    {
        Some("I")
    } else if ["O", "OUT", "OUTBOUND"]
        .iter()
        .any(|d| d.eq_ignore_ascii_case(value))
    {
        Some("O")
    } else {
        None
    }
}

/// Formats that carry their own offset. `%#z` accepts `+05`, `+0500` and `+05:00`; `Z` is
/// handled by RFC 3339 parsing first.
const WITH_OFFSET: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    // Our own `dotnet` output, so a value we printed can be sent back.
    "%m/%d/%Y %I:%M:%S %p %#z",
];

/// Formats read in the configured time zone.
const LOCAL: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
];

/// Date-only formats, read as midnight in the configured time zone.
const DATE_ONLY: &[&str] = &["%Y-%m-%d", "%m/%d/%Y"];

/// Reads a date-time (ISO 8601 with `Z`, an offset or none; `YYYY-MM-DD HH:MM:SS`; US
/// `M/D/YYYY h:mm[:ss] AM`; or a bare date) as microseconds since the Unix epoch. Without
/// an offset the time is in `tz`.
pub fn parse_datetime(value: &str, tz: Tz) -> Option<i64> {
    let value = value.trim();
    if let Some(dt) = parse_with_offset(value) {
        return Some(dt.timestamp_micros());
    }
    let naive = LOCAL
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
        .or_else(|| {
            DATE_ONLY
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(value, f).ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    Some(local_to_utc(naive, tz).timestamp_micros())
}

fn parse_with_offset(value: &str) -> Option<DateTime<chrono::FixedOffset>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(value) {
        return Some(dt);
    }
    // `2026-12-03T14:05Z` (no seconds) is not RFC 3339 but is ISO 8601.
    if let Some(without_z) = value.strip_suffix(['Z', 'z']) {
        let utc = format!("{without_z}+00:00");
        return WITH_OFFSET
            .iter()
            .find_map(|f| DateTime::parse_from_str(&utc, f).ok());
    }
    WITH_OFFSET
        .iter()
        .find_map(|f| DateTime::parse_from_str(value, f).ok())
}

/// A wall-clock time in `tz`. In the hour repeated when clocks go back the earlier
/// instant is taken; in the hour skipped when they go forward the time is read with the
/// offset in force before the change.
fn local_to_utc(naive: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(dt) => dt.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => {
            let before = naive - chrono::Duration::hours(6);
            let offset = tz.offset_from_local_datetime(&before).earliest();
            match offset {
                Some(offset) => {
                    let fixed = chrono::Offset::fix(&offset);
                    Utc.from_utc_datetime(&(naive - fixed))
                }
                None => Utc.from_utc_datetime(&naive),
            }
        }
    }
}

/// How date-times are written in results (`api.datetime_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateFormat {
    /// `2026-12-03T17:54:12+00:00`
    #[default]
    Iso,
    /// `12/3/2026 5:54:12 PM -05:00`, as the vendor's server printed.
    Dotnet,
}

impl DateFormat {
    /// The configuration spelling: `iso` or `dotnet`, any case.
    pub fn from_name(name: &str) -> Option<DateFormat> {
        if name.eq_ignore_ascii_case("iso") {
            Some(DateFormat::Iso)
        } else if name.eq_ignore_ascii_case("dotnet") {
            Some(DateFormat::Dotnet)
        } else {
            None
        }
    }
}

/// Writes microseconds since the Unix epoch in `tz`, to the second (fractions are
/// dropped, not rounded). Instants outside chrono's range are clamped to it.
pub fn format_datetime(micros: i64, tz: Tz, format: DateFormat) -> String {
    let utc = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or(if micros < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    });
    let local = utc.with_timezone(&tz);
    match format {
        DateFormat::Iso => local.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        DateFormat::Dotnet => local.format("%-m/%-d/%Y %-I:%M:%S %p %:z").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::UTC;

    /// 2026-12-03T17:54:12Z
    const T: i64 = 1_796_320_452_000_000;

    #[test]
    fn flags() {
        for y in ["Y", "y", "YES", "yes", "True", "TRUE", "1"] {
            assert_eq!(parse_flag(y), Some(true), "{y}");
        }
        for n in ["N", "n", "No", "FALSE", "false", "0"] {
            assert_eq!(parse_flag(n), Some(false), "{n}");
        }
        for bad in ["", "2", "maybe", "T", "F", "yess"] {
            assert_eq!(parse_flag(bad), None, "{bad}");
        }
    }

    #[test]
    fn directions() {
        for i in ["I", "i", "IN", "in", "Inbound", "INBOUND"] {
            assert_eq!(parse_direction(i), Some("I"), "{i}");
        }
        for o in ["O", "o", "OUT", "Outbound"] {
            assert_eq!(parse_direction(o), Some("O"), "{o}");
        }
        for bad in ["", "X", "internal", "0"] {
            assert_eq!(parse_direction(bad), None, "{bad}");
        }
    }

    #[test]
    fn datetime_forms() {
        for s in [
            "2026-12-03T17:54:12Z",
            "2026-12-03T17:54:12.000Z",
            "2026-12-03T12:54:12-05:00",
            "2026-12-03T12:54:12-0500",
            "2026-12-03T19:54:12+02",
            "2026-12-03T17:54:12",
            "2026-12-03 17:54:12",
            "12/3/2026 5:54:12 PM",
            "12/03/2026 05:54:12 pm",
            "12/3/2026 5:54:12 PM +00:00",
            " 2026-12-03T17:54:12Z ",
        ] {
            assert_eq!(parse_datetime(s, UTC), Some(T), "{s}");
        }
        assert_eq!(
            parse_datetime("12/3/2026 5:54 PM", UTC),
            Some(T - 12_000_000)
        );
        assert_eq!(
            parse_datetime("2026-12-03T17:54Z", UTC),
            Some(T - 12_000_000)
        );
        assert_eq!(
            parse_datetime("2026-12-03", UTC),
            Some(T - (17 * 3600 + 54 * 60 + 12) * 1_000_000)
        );
        assert_eq!(
            parse_datetime("2026-12-03T17:54:12.250Z", UTC),
            Some(T + 250_000)
        );
    }

    #[test]
    fn datetime_without_offset_uses_the_zone() {
        // New York is UTC-5 in December.
        assert_eq!(parse_datetime("2026-12-03 12:54:12", New_York), Some(T));
        assert_eq!(parse_datetime("12/3/2026 12:54:12 PM", New_York), Some(T));
        // An explicit offset wins over the zone.
        assert_eq!(parse_datetime("2026-12-03T17:54:12Z", New_York), Some(T));
    }

    #[test]
    fn datetime_around_clock_changes() {
        // 2026-11-01 01:30 happens twice in New York: the earlier one (EDT, UTC-4) is taken.
        let repeated = parse_datetime("2026-11-01 01:30:00", New_York).unwrap();
        assert_eq!(
            repeated,
            parse_datetime("2026-11-01T05:30:00Z", UTC).unwrap()
        );
        // 2026-03-08 02:30 does not exist there: read with EST (UTC-5).
        let skipped = parse_datetime("2026-03-08 02:30:00", New_York).unwrap();
        assert_eq!(
            skipped,
            parse_datetime("2026-03-08T07:30:00Z", UTC).unwrap()
        );
    }

    #[test]
    fn datetime_rejects() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00",
            "2026-02-30 10:00:00",
            "12/3/2026 13:00:00 PM",
            "2026-12-03T25:00:00Z",
        ] {
            assert_eq!(parse_datetime(bad, UTC), None, "{bad}");
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(
            format_datetime(T, UTC, DateFormat::Iso),
            "2026-12-03T17:54:12+00:00"
        );
        assert_eq!(
            format_datetime(T + 999_999, UTC, DateFormat::Iso),
            "2026-12-03T17:54:12+00:00"
        );
        assert_eq!(
            format_datetime(T, New_York, DateFormat::Iso),
            "2026-12-03T12:54:12-05:00"
        );
        assert_eq!(
            format_datetime(T, New_York, DateFormat::Dotnet),
            "12/3/2026 12:54:12 PM -05:00"
        );
        assert_eq!(
            format_datetime(T, UTC, DateFormat::Dotnet),
            "12/3/2026 5:54:12 PM +00:00"
        );
        assert_eq!(
            format_datetime(T - 17 * 3_600_000_000, UTC, DateFormat::Dotnet),
            "12/3/2026 12:54:12 AM +00:00"
        );
        // Pre-epoch and extreme values do not panic.
        assert_eq!(
            format_datetime(-1_000_000, UTC, DateFormat::Iso),
            "1969-12-31T23:59:59+00:00"
        );
        let _ = format_datetime(i64::MIN, UTC, DateFormat::Iso);
        let _ = format_datetime(i64::MAX, New_York, DateFormat::Dotnet);
    }

    #[test]
    fn formatted_values_parse_back() {
        for tz in [UTC, New_York] {
            for format in [DateFormat::Iso, DateFormat::Dotnet] {
                let s = format_datetime(T, tz, format);
                assert_eq!(parse_datetime(&s, UTC), Some(T), "{s}");
            }
        }
    }

    #[test]
    fn format_names() {
        assert_eq!(DateFormat::from_name("ISO"), Some(DateFormat::Iso));
        assert_eq!(DateFormat::from_name("dotnet"), Some(DateFormat::Dotnet));
        assert_eq!(DateFormat::from_name("rfc"), None);
    }
}
