//! When to try again: jittered exponential backoff, `Retry-After` as the server gives it, and
//! never past the deadline.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::time::{days_from_civil, days_in_month};

/// How a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Whether retryable outcomes are retried here. When not, a retryable answer is returned
    /// to the caller as an answer and a retryable fault as an error, after one attempt.
    pub retry: bool,
    /// The first wait; it doubles after every attempt, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; longer ones wait this long.
    pub max_retry_after: Duration,
    /// The longest one attempt may take (less when the deadline is nearer).
    pub attempt_timeout: Duration,
    /// The longest the request may take, retries included, besides the transport's deadline.
    pub budget: Option<Duration>,
}

impl Policy {
    /// For requests that may be repeated as they are: GET, HEAD, and writes of fixed content
    /// (a blob PUT, a merge patch). Retries until the deadline.
    pub const fn idempotent() -> Self {
        Self {
            retry: true,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(60),
            budget: None,
        }
    }

    /// One attempt: for a request whose body was built from an earlier read, which the caller
    /// must read again before it retries.
    pub const fn once() -> Self {
        Self {
            retry: false,
            ..Self::idempotent()
        }
    }

    /// The same policy with at most `budget` for the whole request.
    pub const fn within(self, budget: Duration) -> Self {
        Self {
            budget: Some(budget),
            ..self
        }
    }
}

/// Backoff state for one request.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(policy: &Policy) -> Self {
        Self {
            next: policy.first_backoff,
            max: policy.max_backoff,
        }
    }

    /// The wait before the next attempt: a jittered backoff, or the server's `Retry-After`
    /// (capped) when that is longer. `Retry-After` is a least wait; a server that keeps saying
    /// `0` still gets the backoff, not a request in a tight loop.
    pub(crate) fn wait(&mut self, retry_after: Option<Duration>, cap: Duration) -> Duration {
        let backoff = jitter(self.next);
        self.next = (self.next * 2).min(self.max);
        match retry_after {
            Some(d) => d.min(cap).max(backoff),
            None => backoff,
        }
    }
}

/// A random 50–100% of `d`, so that writers that collided do not collide again.
pub fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    // Without randomness the wait is still bounded; only the spread is lost.
    let _ = getrandom::fill(&mut b);
    let frac = 0.5 + (u16::from_ne_bytes(b) as f64 / u16::MAX as f64) * 0.5;
    d.mul_f64(frac)
}

/// A `Retry-After` value (RFC 9110 §10.2.3): delay seconds, or an HTTP-date, as a wait from
/// `now`. A date in the past is no wait; anything unparsable is `None`.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An HTTP-date in any of its three forms (RFC 9110 §5.6.7): IMF-fixdate
/// `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT`, and asctime
/// `Sun Nov  6 08:49:37 1994`. The weekday is not checked.
pub fn http_date(s: &str) -> Option<SystemTime> {
    let fields: Vec<&str> = s.split_ascii_whitespace().collect();
    let (day, month, year, time) = match fields.as_slice() {
        [_wd, day, month, year, time, "GMT"] if _wd.ends_with(',') => (*day, *month, *year, *time),
        [_wd, dmy, time, "GMT"] if _wd.ends_with(',') => {
            let mut parts = dmy.split('-');
            let (Some(d), Some(m), Some(y), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return None;
            };
            (d, m, y, *time)
        }
        [_wd, month, day, time, year] => (*day, *month, *year, *time),
        _ => return None,
    };
    let day: u32 = digits(day, 1, 2)?;
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let year: i64 = match year.len() {
        4 => digits(year, 4, 4)?,
        // RFC 850's two-digit year: as RFC 9110 says, one more than 50 years ahead is past.
        2 => {
            let yy: i64 = digits(year, 2, 2)?;
            if yy >= 70 { 1900 + yy } else { 2000 + yy }
        }
        _ => return None,
    };
    let mut hms = time.split(':');
    let (Some(h), Some(mi), Some(sec), None) = (hms.next(), hms.next(), hms.next(), hms.next())
    else {
        return None;
    };
    let (h, mi, sec): (u64, u64, u64) = (digits(h, 2, 2)?, digits(mi, 2, 2)?, digits(sec, 2, 2)?);
    let (month, day) = (i64::from(month), i64::from(day));
    if !(1..=days_in_month(year, month)).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + sec;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

fn digits<T: std::str::FromStr>(s: &str, min: usize, max: usize) -> Option<T> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(retry_after("7", at(0)), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(" 0 ", at(0)), Some(Duration::ZERO));
        assert_eq!(
            retry_after("99999999999999999999999", at(0)),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in ["", "-1", "1.5", "soon", "7s", "\u{663}"] {
            assert_eq!(retry_after(bad, at(0)), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_after_as_an_http_date_in_all_three_forms() {
        // 1994-11-06T08:49:37Z
        let when = 784_111_777;
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(http_date(form), Some(at(when)), "{form}");
            assert_eq!(
                retry_after(form, at(when - 30)),
                Some(Duration::from_secs(30)),
                "{form}"
            );
        }
        // A date already past means "now".
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at(when + 5)),
            Some(Duration::ZERO)
        );
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(at(0)));
        assert_eq!(
            http_date("Tue, 29 Feb 2028 23:59:59 GMT"),
            Some(at(1_835_481_599))
        );
    }

    #[test]
    fn malformed_dates_are_ignored_not_panicked_on() {
        for bad in [
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 08:49:37 CET",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sun, 06 Nov 99999 08:49:37 GMT",
            "Sun, 6-Nov 08:49:37 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "Sun, 06 Nov 1994 ::: GMT",
            "Sun, 0é Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:4é:37 GMT",
        ] {
            assert_eq!(http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_is_jittered_and_retry_after_wins() {
        let mut b = Backoff::new(&Policy::idempotent());
        let cap = Duration::from_secs(60);
        let first = b.wait(None, cap);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let second = b.wait(None, cap);
        assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
        assert_eq!(
            b.wait(Some(Duration::from_secs(3)), cap),
            Duration::from_secs(3)
        );
        assert_eq!(b.wait(Some(Duration::from_secs(3600)), cap), cap);
        // "Retry-After: 0" is no reason to skip the backoff.
        let zero = b.wait(Some(Duration::ZERO), cap);
        assert!(zero >= Duration::from_millis(800), "{zero:?}");
        for _ in 0..10 {
            assert!(b.wait(None, cap) <= Duration::from_secs(5));
        }
    }
}
