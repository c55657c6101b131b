//! RFC 3339 times: parsed from flags and from API objects, written into payloads.
//!
//! Written here rather than taken from a crate because both directions must be total: every
//! input is a time or an error (no byte slicing inside a multi-byte character, no overflow),
//! and every time that parsing accepts can be written back. The accepted range is what Go's
//! `time.Time.MarshalJSON` can write, years 0000 to 9999 in UTC: a time Chains could not put in
//! a payload is refused up front. Times before 1970 are fine (`1970-01-01T00:00:00+01:00`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why a string is not an RFC 3339 time. The message never repeats the input: callers name it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("expected YYYY-MM-DDTHH:MM:SS[.fraction] and Z or ±HH:MM")]
    Shape,
    #[error("{0} out of range")]
    Field(&'static str),
    #[error("more than 9 fractional digits")]
    Fraction,
    #[error("outside the years 0000 to 9999 once converted to UTC")]
    Range,
}

/// Seconds from 0000-01-01T00:00:00Z to the epoch (719528 days).
const YEAR_0_TO_EPOCH: i64 = 719_528 * 86_400;
/// Seconds from the epoch to 10000-01-01T00:00:00Z.
const EPOCH_TO_YEAR_10000: i64 = 253_402_300_800;

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `T` and `Z` may be lower case (RFC 3339 §5.6).
pub fn parse_rfc3339(s: &str) -> Result<SystemTime, TimeError> {
    let b = s.as_bytes();
    // Fixed part: "YYYY-MM-DDTHH:MM:SS" is 19 ASCII bytes.
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(TimeError::Shape);
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    let mut rest = &b[19..];
    let mut nanos: u32 = 0;
    if let Some((b'.', tail)) = rest.split_first() {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return Err(TimeError::Shape);
        }
        if n > 9 {
            return Err(TimeError::Fraction);
        }
        let frac = digits(&tail[..n])?;
        nanos = (frac * 10i64.pow(9 - n as u32)) as u32;
        rest = &tail[n..];
    }
    let offset: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hh = digits(&[*h1, *h2])?;
            let mm = digits(&[*m1, *m2])?;
            if hh > 23 {
                return Err(TimeError::Field("zone hours"));
            }
            if mm > 59 {
                return Err(TimeError::Field("zone minutes"));
            }
            let secs = hh * 3600 + mm * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return Err(TimeError::Shape),
    };
    if !(1..=12).contains(&month) {
        return Err(TimeError::Field("month"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(TimeError::Field("day"));
    }
    if hour > 23 {
        return Err(TimeError::Field("hour"));
    }
    if minute > 59 {
        return Err(TimeError::Field("minute"));
    }
    // Go's time package refuses leap seconds too.
    if second > 59 {
        return Err(TimeError::Field("second"));
    }
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let utc = local - offset;
    if !(-YEAR_0_TO_EPOCH..EPOCH_TO_YEAR_10000).contains(&utc) {
        return Err(TimeError::Range);
    }
    Ok(from_unix(utc, nanos))
}

/// Writes `t` as RFC 3339 in UTC with whole seconds (`2026-01-02T03:04:05Z`), as Kubernetes
/// times appear in Chains' payloads. Years past 9999 (which parsing never yields) are written
/// with as many digits as they need rather than failing.
pub fn format_rfc3339_seconds(t: SystemTime) -> String {
    let secs = unix_seconds(t);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Whole seconds since the epoch, negative before it (rounded down), saturating far out.
fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 {
                -whole.saturating_add(1)
            } else {
                -whole
            }
        }
    }
}

fn from_unix(secs: i64, nanos: u32) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nanos)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + Duration::from_nanos(nanos.into())
    }
}

/// ASCII decimal digits to a number; anything else is a shape error.
fn digits(b: &[u8]) -> Result<i64, TimeError> {
    b.iter().try_fold(0i64, |n, c| {
        if c.is_ascii_digit() {
            Ok(n * 10 + i64::from(c - b'0'))
        } else {
            Err(TimeError::Shape)
        }
    })
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The days of a month in the proleptic Gregorian calendar.
pub(crate) fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Years are counted from March, so the
/// leap day is the last day of its year and each 400-year era has the same 146097 days.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(s: &str) -> String {
        format_rfc3339_seconds(parse_rfc3339(s).unwrap())
    }

    #[test]
    fn z_and_offsets_name_the_same_instant() {
        let z = parse_rfc3339("2026-01-02T03:04:05Z").unwrap();
        assert_eq!(parse_rfc3339("2026-01-02T05:04:05+02:00").unwrap(), z);
        assert_eq!(parse_rfc3339("2026-01-02T01:34:05-01:30").unwrap(), z);
        assert_eq!(parse_rfc3339("2026-01-02t03:04:05z").unwrap(), z);
        assert_eq!(
            UNIX_EPOCH + Duration::from_secs(1_767_323_045),
            z,
            "2026-01-02T03:04:05Z"
        );
    }

    #[test]
    fn fractions_are_kept_to_the_nanosecond_and_written_as_whole_seconds() {
        let t = parse_rfc3339("2026-01-02T03:04:05.123456789Z").unwrap();
        let d = t.duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(d.subsec_nanos(), 123_456_789);
        assert_eq!(fmt("2026-01-02T03:04:05.5Z"), "2026-01-02T03:04:05Z");
    }

    #[test]
    fn times_before_the_epoch_and_at_the_edges_of_the_range_round_trip() {
        assert_eq!(fmt("1970-01-01T00:00:00+01:00"), "1969-12-31T23:00:00Z");
        assert_eq!(fmt("1969-12-31T23:59:59.5Z"), "1969-12-31T23:59:59Z");
        assert_eq!(fmt("0000-01-01T00:00:00Z"), "0000-01-01T00:00:00Z");
        assert_eq!(fmt("9999-12-31T23:59:59Z"), "9999-12-31T23:59:59Z");
        assert_eq!(fmt("2024-02-29T12:00:00Z"), "2024-02-29T12:00:00Z");
        assert_eq!(fmt("2000-03-01T00:00:00+23:59"), "2000-02-29T00:01:00Z");
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        for days in -800_000..-650_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        for days in (-719_528..2_932_897).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn out_of_range_and_malformed_times_are_errors() {
        assert_eq!(
            parse_rfc3339("9999-12-31T23:59:59-23:59"),
            Err(TimeError::Range)
        );
        assert_eq!(
            parse_rfc3339("0000-01-01T00:00:00+00:01"),
            Err(TimeError::Range)
        );
        for bad in [
            "2026-01-02T03:04:05+€:0",
            "2026-01-02T03:04:05+-1:00",
            "2026-01-02T03:04:05++1:00",
            "2026-01-02T03:04:05.Z",
            "2026-01-02T03:04:05",
            "2026-01-02 03:04:05Z",
            "2026-01-02T03:04:05ZZ",
            "2026-01-02T03:04:05+0100",
            "2026-01-02T03:04:05+01:00Z",
            "+026-01-02T03:04:05Z",
            "2026-1-02T03:04:05Z",
            "€€€€€€€€€€€€€€€€€€€€",
            "",
            "x",
        ] {
            assert_eq!(parse_rfc3339(bad), Err(TimeError::Shape), "{bad}");
        }
        for (bad, field) in [
            ("2026-13-02T03:04:05Z", "month"),
            ("2026-00-02T03:04:05Z", "month"),
            ("2025-02-29T03:04:05Z", "day"),
            ("2026-04-31T03:04:05Z", "day"),
            ("2026-01-02T24:04:05Z", "hour"),
            ("2026-01-02T03:60:05Z", "minute"),
            ("2026-01-02T03:04:60Z", "second"),
            ("2026-01-02T03:04:05+24:00", "zone hours"),
            ("2026-01-02T03:04:05+01:60", "zone minutes"),
        ] {
            assert_eq!(parse_rfc3339(bad), Err(TimeError::Field(field)), "{bad}");
        }
        assert_eq!(
            parse_rfc3339("2026-01-02T03:04:05.1234567890Z"),
            Err(TimeError::Fraction)
        );
    }

    #[test]
    fn formatting_never_panics_far_from_the_epoch() {
        let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert!(format_rfc3339_seconds(far).ends_with('Z'));
        let before = UNIX_EPOCH - Duration::from_secs(100_000_000_000);
        assert!(format_rfc3339_seconds(before).ends_with('Z'));
    }
}
