//! What can go wrong with a request, typed by whether another attempt can help.

use super::Response;

/// Whether another attempt at the same request can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 5xx, 408, 429, a reset or refused connection, a timeout: the server or the path to it
    /// may be better in a moment.
    Retryable,
    /// Everything else: another 4xx, a TLS failure, a protocol error. The next attempt would
    /// fail the same way.
    Final,
}

/// How an HTTP status is classed: 408, 429 and 5xx are worth another try.
pub fn classify_status(status: u16) -> Class {
    if status == 408 || status == 429 || status >= 500 {
        Class::Retryable
    } else {
        Class::Final
    }
}

/// One attempt that ended before a whole HTTP answer came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// The connection failed, was reset or timed out (also: no DNS server answered in time).
    #[error("{0}")]
    Connection(String),
    /// The name does not resolve.
    #[error("{0}")]
    Resolve(String),
    /// TLS failed: an unknown CA, a wrong name, a protocol version nobody shares.
    #[error("{0}")]
    Tls(String),
    /// The answer was more than this request reads.
    #[error("the answer is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// Anything else the HTTP layer refused (a malformed answer, a bad header).
    #[error("{0}")]
    Protocol(String),
}

impl Fault {
    pub fn class(&self) -> Class {
        match self {
            Fault::Connection(_) => Class::Retryable,
            Fault::Resolve(_) | Fault::Tls(_) | Fault::TooLarge { .. } | Fault::Protocol(_) => {
                Class::Final
            }
        }
    }

    /// Classifies an error from the HTTP layer.
    pub(crate) fn from_ureq(e: ureq::Error, limit: u64) -> Fault {
        use std::io::ErrorKind as K;
        let message = e.to_string();
        match e {
            ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed => Fault::Connection(message),
            ureq::Error::HostNotFound => Fault::Resolve(message),
            ureq::Error::BodyExceedsLimit(_) => Fault::TooLarge { limit },
            ureq::Error::Tls(_) | ureq::Error::Rustls(_) => Fault::Tls(message),
            ureq::Error::Io(io) => match io.kind() {
                K::ConnectionReset
                | K::ConnectionAborted
                | K::ConnectionRefused
                | K::BrokenPipe
                | K::UnexpectedEof
                | K::TimedOut
                | K::WouldBlock
                | K::Interrupted
                | K::NotConnected => Fault::Connection(message),
                // rustls reports a failed handshake as an I/O error carrying its own error.
                _ if io
                    .get_ref()
                    .is_some_and(|inner| inner.is::<rustls::Error>()) =>
                {
                    Fault::Tls(message)
                }
                _ => Fault::Protocol(message),
            },
            _ => Fault::Protocol(message),
        }
    }
}

/// The last thing a request saw before the deadline stopped it.
#[derive(Debug)]
pub enum Last {
    /// The deadline had passed before the first attempt.
    NoAttempt,
    /// A retryable answer (5xx, 408, 429).
    Answer(Box<Response>),
    /// A retryable fault.
    Fault(Fault),
}

impl std::fmt::Display for Last {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Last::NoAttempt => f.write_str("the deadline had passed"),
            Last::Answer(r) => write!(f, "answered {}", r.status),
            Last::Fault(e) => write!(f, "{e}"),
        }
    }
}

/// Why a request did not produce an answer for its caller.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// The transport could not be set up: a CA file that does not read or holds no
    /// certificate, no CA at all.
    #[error("{0}")]
    Setup(String),
    /// chainlet will not send this request: a URL with a port outside 1–65535, plain HTTP to
    /// a host not on the allow-list, a redirect there.
    #[error("{0}")]
    Refused(String),
    /// One attempt failed in a way that is not retried (or may not be, by the request's
    /// policy).
    #[error("{0}")]
    Fault(Fault),
    /// Retries ran into the deadline.
    #[error("still failing when the deadline passed ({attempts} attempts): {last}")]
    Deadline { attempts: u32, last: Last },
}

/// A failed request: what it was for (`op`, as the caller named it) and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{op}: {kind}")]
pub struct Error {
    pub op: String,
    pub kind: ErrorKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_worth_another_try_are_408_429_and_5xx() {
        for s in [408, 429, 500, 502, 503, 504, 599] {
            assert_eq!(classify_status(s), Class::Retryable, "{s}");
        }
        for s in [200, 201, 301, 400, 401, 403, 404, 409, 413, 499] {
            assert_eq!(classify_status(s), Class::Final, "{s}");
        }
    }

    #[test]
    fn connection_trouble_is_retried_and_tls_failures_are_not() {
        use std::io::{Error as Io, ErrorKind as K};
        let retry = [
            ureq::Error::ConnectionFailed,
            ureq::Error::Io(Io::new(K::ConnectionReset, "reset")),
            ureq::Error::Io(Io::new(K::ConnectionRefused, "refused")),
            ureq::Error::Io(Io::new(K::UnexpectedEof, "eof")),
            ureq::Error::Io(Io::new(K::TimedOut, "slow")),
        ];
        for e in retry {
            assert_eq!(Fault::from_ureq(e, 1).class(), Class::Retryable);
        }
        let tls = ureq::Error::Io(Io::new(
            K::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        let f = Fault::from_ureq(tls, 1);
        assert!(matches!(f, Fault::Tls(_)), "{f:?}");
        assert_eq!(f.class(), Class::Final);
        assert_eq!(
            Fault::from_ureq(ureq::Error::HostNotFound, 1).class(),
            Class::Final
        );
        assert_eq!(
            Fault::from_ureq(ureq::Error::BodyExceedsLimit(9), 8),
            Fault::TooLarge { limit: 8 }
        );
    }
}
