//! Times (`time::parse_rfc3339`, from flags and API objects), and what the transport parses
//! from servers and flags: `Retry-After`, HTTP dates, `host[:port]`, URLs and `Location`s,
//! and `resolv.conf` / `/etc/hosts` contents.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;

use chainlet::net::{self, HostPort, Origin, resolve::Resolver};
use chainlet::time::{format_rfc3339_seconds, parse_rfc3339};

use crate::support::{self, any_string, near_str};

const TIMES: &[&str] = &[
    "2026-01-02T03:04:05Z",
    "2026-01-02T03:04:05.123456789+05:30",
    "1970-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "2024-02-29t23:59:59-23:59",
];

const HOSTS: &[&str] = &[
    "registry.example.com",
    "127.0.0.1:5000",
    "[::1]:443",
    "[fe80::1]",
    "localhost:65535",
];

const URLS: &[&str] = &[
    "https://registry.example.com/v2/",
    "http://127.0.0.1:5000/v2/team/app/blobs/uploads/?x=1",
    "https://[::1]:8443/token?scope=repository:a:pull",
];

const RESOLV: &[&str] = &[
    "nameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n",
    "nameserver ::1\noptions timeout:1 attempts:1\n",
];

/// A valid RFC 3339 time from its parts, with the offset that keeps it inside the range.
fn valid_time() -> impl Strategy<Value = (String, i64)> {
    (
        0i64..=9999,
        1i64..=12,
        1i64..=28,
        0i64..=23,
        0i64..=59,
        0i64..=59,
        proptest::option::of(0u32..1_000_000_000),
        -(23 * 60 + 59)..=(23 * 60 + 59i64),
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, off)| {
            let frac = frac.map(|f| format!(".{f:09}")).unwrap_or_default();
            let zone = if off == 0 {
                "Z".to_owned()
            } else {
                let sign = if off < 0 { '-' } else { '+' };
                format!("{sign}{:02}:{:02}", off.abs() / 60, off.abs() % 60)
            };
            (
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{zone}"),
                off * 60,
            )
        })
}

proptest! {
    #![proptest_config(support::cases(1024))]

    /// Any string is a time or an error; a time writes back as one that parses again to the
    /// same whole second.
    #[test]
    fn times_parse_or_fail_and_write_back(s in prop_oneof![3 => near_str(TIMES), 1 => any_string()]) {
        if let Ok(t) = parse_rfc3339(&s) {
            let written = format_rfc3339_seconds(t);
            let again = parse_rfc3339(&written).expect("a written time parses");
            let whole = |t: SystemTime| match t.duration_since(UNIX_EPOCH) {
                Ok(d) => d.as_secs() as i64,
                Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
            };
            prop_assert_eq!(whole(again), whole(t), "{} wrote {}", s, written);
        }
    }

    /// Every valid time inside the range parses, and its offset means what it says.
    #[test]
    fn valid_times_parse_to_their_instant((s, offset) in valid_time()) {
        match parse_rfc3339(&s) {
            Ok(t) => {
                let utc = s[..19].to_owned() + "Z";
                // The same wall-clock time in UTC is `offset` seconds later, when in range.
                if let Ok(wall) = parse_rfc3339(&utc) {
                    let shifted = if offset >= 0 {
                        wall.checked_sub(Duration::from_secs(offset as u64))
                    } else {
                        wall.checked_add(Duration::from_secs(offset.unsigned_abs()))
                    };
                    let t_whole = format_rfc3339_seconds(t);
                    prop_assert_eq!(shifted.map(format_rfc3339_seconds), Some(t_whole));
                }
            }
            // Only the edges of the range may be refused, once the offset moves them out.
            Err(e) => prop_assert!(
                e.to_string().contains("years 0000 to 9999")
                    && (s.starts_with("0000-01-01") || s.starts_with("9999-12-")),
                "{} refused: {}", s, e
            ),
        }
    }

    /// `Retry-After` (seconds or an HTTP date) and HTTP dates read or are ignored.
    #[test]
    fn retry_after_and_http_dates_never_panic(s in prop_oneof![
        1 => Just("Sun, 06 Nov 1994 08:49:37 GMT".to_owned()),
        1 => Just("Sunday, 06-Nov-94 08:49:37 GMT".to_owned()),
        1 => Just("Sun Nov  6 08:49:37 1994".to_owned()),
        1 => support::edge_integer(),
        2 => any_string(),
    ]) {
        let _ = net::retry_after(&s, SystemTime::now());
        let _ = net::http_date(&s);
    }

    /// `host[:port]` values (`--insecure-registry`, image references) and URLs from servers
    /// (`Location`, token realms) parse or are refused; a parsed port is 1-65535.
    #[test]
    fn hosts_urls_and_locations_parse_or_fail(
        h in prop_oneof![3 => near_str(HOSTS), 1 => any_string()],
        u in prop_oneof![3 => near_str(URLS), 1 => any_string()],
    ) {
        if let Ok(hp) = HostPort::parse(&h) {
            prop_assert!(hp.port != Some(0), "{}", h);
        }
        let _ = net::origin::parse_port(&h);
        if let Ok(origin) = Origin::of_url(&u) {
            let _ = net::origin::absolute(&origin, &h);
        }
    }

    /// `resolv.conf` and `/etc/hosts` contents, then a lookup that only the hosts file or an
    /// IP literal can answer (the nameserver is a closed local port, the deadline is now).
    #[test]
    fn resolver_configuration_never_panics(
        conf in prop_oneof![3 => near_str(RESOLV), 1 => any_string()],
        hosts in any_string(),
        name in prop_oneof![Just("localhost".to_owned()), Just("127.0.0.1".to_owned()), any_string()],
    ) {
        let resolver = Resolver::from_parts(conf.as_bytes(), &hosts)
            .with_nameserver("127.0.0.1:9".parse().unwrap());
        let _ = resolver.resolve(&name, Instant::now());
    }
}
