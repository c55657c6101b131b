//! One HTTP transport for every client chainlet has: the OCI registry, the Kubernetes API, and
//! later Rekor, Fulcio, KMS and cloud storage.
//!
//! A client states *what* it sends (a [`Request`]: method, URL, headers, body, a name for
//! errors, a retry [`Policy`], a size limit, an optional [`Credential`]) and gets an
//! answer ([`Response`]) or a typed [`Error`]. The [`Transport`] decides *how*, the same way for
//! every client:
//!
//! - **Trust.** HTTPS is always verified, against the system's roots plus extra PEM CAs, or
//!   against only the CA a service was given ([`tls::Trust`]). Plain HTTP is sent only to the
//!   `host[:port]`s on the transport's allow-list (`--insecure-registry`), and never follows a
//!   redirect anywhere else.
//! - **One deadline.** A transport has the run's deadline: no attempt outlives it, each one gets
//!   what is left (capped by the policy's `attempt_timeout`), and name resolution is bounded by
//!   the same time ([`resolve`]).
//! - **Retries.** Outcomes are classed ([`Class`]): 5xx, 408, 429 and connection trouble are
//!   retried with jittered exponential backoff, or after the server's `Retry-After` (seconds or
//!   an HTTP-date), while the deadline allows; other 4xx and TLS failures are final.
//! - **Credentials stay home.** A [`Credential`] is bound to the scheme, host and port it was
//!   issued for and is sent nowhere else. Redirects are followed without it.
//! - **Bounded answers.** Every request says how many bytes of body it reads at most.
//! - **Names without libc.** [`resolve::Resolver`] reads `/etc/hosts` and `resolv.conf` itself
//!   (a `FROM scratch` image has no NSS), asks A and AAAA together and caches per transport.
//!
//! A new client is a thin layer: build requests, map [`Error`] and statuses to its own error
//! enum with its own wording. For instance:
//!
//! ```no_run
//! use chainlet::net::{Options, Policy, Request, Transport, tls::Trust};
//! # fn demo() -> Result<(), chainlet::net::Error> {
//! let net = Transport::new(Options {
//!     deadline: std::time::Instant::now() + std::time::Duration::from_secs(60),
//!     plain_http: vec![],
//!     trust: Trust::system_and(vec![], "--rekor-ca"),
//! });
//! let entry = br#"{"kind":"hashedrekord"}"#;
//! let answer = net.send(
//!     &Request::new("POST", "https://rekor.example/api/v1/log/entries", "upload to Rekor")
//!         .header("Content-Type", "application/json")
//!         .body(entry)
//!         .policy(Policy::idempotent())
//!         .max_body(1 << 20),
//! )?;
//! assert_eq!(answer.status, 201);
//! # Ok(()) }
//! ```

mod error;
pub mod origin;
pub mod resolve;
mod retry;
pub mod tls;
mod transport;

pub use error::{Class, Error, ErrorKind, Fault, Last, classify_status};
pub use origin::{HostPort, Origin, Scheme};
pub use retry::{Policy, http_date, jitter, retry_after};
pub use transport::{Credential, Options, Request, Response, Transport};
