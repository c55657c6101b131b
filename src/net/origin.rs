//! Where a request goes: scheme, host and port, read from the URL by chainlet itself, so that
//! the port checked, the port named in errors and the port connected to are one and the same.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// `host[:port]` as a user writes it (`--insecure-registry`, the registry of an image
/// reference): a name or IPv4 address, or an IPv6 address in brackets, and an optional port
/// that must be 1–65535.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Lowercase; an IPv6 address keeps its brackets.
    pub host: String,
    pub port: Option<u16>,
}

impl HostPort {
    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`. The error says what is wrong
    /// without repeating the input (callers name it).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or("an IPv6 address needs its closing ']'")?;
            if inside.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("[{inside}] is not an IPv6 address"));
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or("only a :port may follow ']'")?),
            };
            (format!("[{}]", inside.to_ascii_lowercase()), port)
        } else {
            match s.split_once(':') {
                Some((_, p)) if p.contains(':') => {
                    return Err("an IPv6 address must be written in brackets: [addr]:port".into());
                }
                Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
                None => (s.to_ascii_lowercase(), None),
            }
        };
        if host.is_empty() {
            return Err("the host is empty".into());
        }
        if !host.starts_with('[')
            && !host
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
        {
            return Err(format!("{host:?} is not a host name"));
        }
        let port = port.map(parse_port).transpose()?;
        Ok(Self { host, port })
    }

    /// Whether this allow-list entry covers `other`: the same host, and the same port unless
    /// the entry names none (then any port of that host).
    pub fn covers(&self, other: &HostPort) -> bool {
        self.host == other.host && (self.port.is_none() || self.port == other.port)
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// A port as written: digits only, 1–65535.
pub fn parse_port(p: &str) -> Result<u16, String> {
    if p.is_empty() {
        return Err("the port after ':' is empty".into());
    }
    if !p.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("the port {p:?} is not a number"));
    }
    match p.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(format!("the port {p} is not between 1 and 65535")),
    }
}

/// Scheme, host and port of a URL: what credentials are bound to and what plain HTTP is
/// allowed for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: Scheme,
    /// Lowercase; an IPv6 address keeps its brackets.
    pub host: String,
    /// Explicit, or the scheme's default.
    pub port: u16,
}

impl Origin {
    /// The origin of an absolute `http://` or `https://` URL. A URL with user information
    /// (`user@host`) or a port outside 1–65535 is refused.
    pub fn of_url(url: &str) -> Result<Self, String> {
        let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
            (Scheme::Https, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (Scheme::Http, r)
        } else {
            return Err(format!("{url}: not an http:// or https:// URL"));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        if authority.contains('@') {
            return Err(format!("{url}: user information in a URL is not sent"));
        }
        let hp = HostPort::parse(authority).map_err(|e| format!("{url}: {e}"))?;
        Ok(Self {
            scheme,
            port: hp.port.unwrap_or(scheme.default_port()),
            host: hp.host,
        })
    }

    /// The origin of `host[:port]` reached with `scheme`.
    pub fn of_host(scheme: Scheme, host_port: &str) -> Result<Self, String> {
        let hp = HostPort::parse(host_port)?;
        Ok(Self {
            scheme,
            port: hp.port.unwrap_or(scheme.default_port()),
            host: hp.host,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
    }
}

/// `location` (absolute, or relative to `base`'s origin) as an absolute URL.
pub fn absolute(base: &Origin, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_owned();
    }
    let port = if base.port == base.scheme.default_port() {
        String::new()
    } else {
        format!(":{}", base.port)
    };
    format!(
        "{}://{}{port}{}{location}",
        base.scheme.as_str(),
        base.host,
        if location.starts_with('/') { "" } else { "/" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_outside_1_to_65535_are_refused() {
        for bad in [
            "127.0.0.1:99999",
            "127.0.0.1:0",
            "127.0.0.1:65536",
            "127.0.0.1:",
            "127.0.0.1:http",
            "127.0.0.1:+80",
            "[::1]:99999",
            "host:4294967377",
        ] {
            assert!(HostPort::parse(bad).is_err(), "{bad}");
            assert!(
                Origin::of_url(&format!("http://{bad}/v2/")).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            HostPort::parse("127.0.0.1:99999").unwrap_err(),
            "the port 99999 is not between 1 and 65535"
        );
    }

    #[test]
    fn host_ports_parse_with_and_without_port() {
        let hp = HostPort::parse("Registry.Local:5000").unwrap();
        assert_eq!((hp.host.as_str(), hp.port), ("registry.local", Some(5000)));
        let hp = HostPort::parse("[::1]:65535").unwrap();
        assert_eq!((hp.host.as_str(), hp.port), ("[::1]", Some(65535)));
        assert_eq!(HostPort::parse("[::1]").unwrap().port, None);
        for bad in ["", "::1", "[::1", "[zz]:80", "a b", "a/b:80", "[::1]x"] {
            assert!(HostPort::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_entry_without_port_covers_every_port_of_its_host() {
        let any = HostPort::parse("localhost").unwrap();
        let one = HostPort::parse("localhost:5000").unwrap();
        assert!(any.covers(&one));
        assert!(one.covers(&one));
        assert!(!one.covers(&any));
        assert!(!one.covers(&HostPort::parse("localhost:5001").unwrap()));
        assert!(!any.covers(&HostPort::parse("otherhost:5000").unwrap()));
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let o = |u: &str| Origin::of_url(u).unwrap();
        assert_eq!(
            o("https://r.example/v2/x"),
            o("https://R.example:443/v2/y?q")
        );
        assert_ne!(o("https://r.example/"), o("http://r.example/"));
        assert_ne!(o("https://r.example/"), o("https://r.example:8443/"));
        assert_ne!(o("https://r.example/"), o("https://r.example.evil/"));
        assert_eq!(o("http://[::1]:5000").port, 5000);
        assert!(Origin::of_url("https://user:pw@r.example/").is_err());
        assert!(Origin::of_url("ftp://r.example/").is_err());
    }

    #[test]
    fn relative_locations_resolve_against_the_origin() {
        let base = Origin::of_url("http://127.0.0.1:5000/v2/").unwrap();
        assert_eq!(
            absolute(&base, "/v2/a/blobs/uploads/1?x=y"),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/1?x=y"
        );
        assert_eq!(
            absolute(&base, "https://elsewhere/x"),
            "https://elsewhere/x"
        );
        let tls = Origin::of_url("https://r.example/").unwrap();
        assert_eq!(absolute(&tls, "up/1"), "https://r.example/up/1");
    }
}
