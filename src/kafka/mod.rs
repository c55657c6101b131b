//! A minimal Kafka producer over plain TCP: what storage `kafka` needs and nothing more.
//!
//! One run publishes a few messages once, so the client is a straight line, not a pipeline:
//! connect to a bootstrap server, ask `ApiVersions` which versions the broker speaks, ask
//! `Metadata` for the topic (it must exist: chainlet never creates it), connect to the leader of
//! the topic's first available partition, and send one `Produce` with a v2 record batch and
//! `acks=all`. All records of a run go in that one batch, which a partition appends whole or
//! not at all.
//!
//! Every socket operation is bounded by the run's deadline (name resolution too, through
//! [`crate::net::resolve::Resolver`]). Broker error codes the protocol calls retriable (a
//! leader moving, replicas catching up, timeouts) and lost connections are retried with
//! jittered backoff, a few times and never past the deadline. The producer is not idempotent
//! (no producer id), so a retry after an answer was lost may append the batch twice, as any
//! at-least-once Kafka producer would.
//!
//! Plain TCP only: no TLS and no SASL (Chains' Kafka provider configures neither).

pub mod protocol;
pub mod wire;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::net::resolve::{DnsError, Resolver};
use protocol::{ApiRange, Metadata, Record};
use wire::WireError;

/// The largest answer read: a one-topic Metadata or a Produce answer is a few kilobytes.
const MAX_ANSWER: usize = 16 << 20;
/// One connection attempt or one request waits at most this long (less when the deadline is
/// nearer), so that a retry can still follow.
const ATTEMPT: Duration = Duration::from_secs(30);
/// Tries of one operation, the first included.
const TRIES: u32 = 5;
const CLIENT_ID: &str = "chainlet";

#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("{0}")]
    Resolve(#[from] DnsError),
    #[error("{server}: cannot connect: {source}")]
    Connect {
        server: String,
        source: std::io::Error,
    },
    #[error("{server}: {api}: {source}")]
    Io {
        server: String,
        api: &'static str,
        source: std::io::Error,
    },
    #[error(
        "{server}: closed the connection without answering {api} (a listener that wants TLS or SASL? chainlet speaks plain TCP only)"
    )]
    Closed { server: String, api: &'static str },
    #[error("{server}: {api}: {source}")]
    Wire {
        server: String,
        api: &'static str,
        source: WireError,
    },
    #[error(
        "{server}: {api}: an answer of {size} bytes is not a Kafka answer (at most {MAX_ANSWER})"
    )]
    Size {
        server: String,
        api: &'static str,
        size: i64,
    },
    #[error("{server}: {api}: the answer is to request {got}, not {sent}")]
    Correlation {
        server: String,
        api: &'static str,
        sent: i32,
        got: i32,
    },
    #[error("{server}: the broker speaks no version of {api} that chainlet speaks ({spoken})")]
    Unsupported {
        server: String,
        api: &'static str,
        spoken: &'static str,
    },
    #[error("{server}: {api}: the broker answered {name} ({code}){}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        server: String,
        api: &'static str,
        code: i16,
        name: &'static str,
        message: Option<String>,
    },
    #[error("the topic does not exist (chainlet never creates it; create it first)")]
    NoTopic,
    #[error("no partition of the topic has a leader")]
    NoLeader,
    #[error(
        "{server}: the leader of partition {partition}, broker {node}, is not in the broker list"
    )]
    UnknownLeader {
        server: String,
        partition: i32,
        node: i32,
    },
    #[error("{server}: the broker's answer has no result for the partition sent")]
    NoResult { server: String },
    #[error("the run's deadline passed ({last})")]
    Deadline { last: String },
}

impl KafkaError {
    /// Whether trying again may succeed: lost connections, timeouts and the broker's
    /// retriable codes. A missing topic or a refusal is final.
    fn retriable(&self) -> bool {
        match self {
            KafkaError::Connect { .. } | KafkaError::Io { .. } | KafkaError::NoLeader => true,
            KafkaError::Broker { code, .. } => protocol::retriable(*code),
            _ => false,
        }
    }
}

/// A broker's address as configured or advertised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// One open connection to a broker, with the versions it speaks.
struct Connection {
    server: String,
    stream: TcpStream,
    next_id: i32,
    versions: Vec<ApiRange>,
    deadline: Instant,
}

/// What the producer needs from a topic's metadata: where to send.
#[derive(Debug, Clone)]
pub struct Route {
    pub partition: i32,
    pub leader: Server,
}

pub struct Producer {
    bootstrap: Vec<Server>,
    resolver: Resolver,
    deadline: Instant,
}

impl Producer {
    pub fn new(bootstrap: Vec<Server>, resolver: Resolver, deadline: Instant) -> Self {
        Self {
            bootstrap,
            resolver,
            deadline,
        }
    }

    /// Checks that `topic` exists and has a partition with a leader, without creating it.
    pub fn check_topic(&self, topic: &str) -> Result<Route, KafkaError> {
        self.retrying(|| self.route(topic).map(|(_, route)| route))
    }

    /// Appends `records` to `topic` as one batch; returns the partition and the first offset.
    pub fn publish(&self, topic: &str, records: &[Record]) -> Result<(i32, i64), KafkaError> {
        let timestamp_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let batch = protocol::record_batch(records, timestamp_ms);
        self.retrying(|| {
            let (bootstrap, route) = self.route(topic)?;
            let mut conn = match bootstrap {
                Some(c) if c.server == route.leader.to_string() => c,
                _ => self.connect(&route.leader)?,
            };
            let version = conn.version(protocol::PRODUCE, "Produce", "v3-v8")?;
            let timeout = self.remaining().min(ATTEMPT).as_millis() as i32;
            let body = protocol::produce_request(-1, timeout, topic, route.partition, &batch);
            let answer = conn.request(protocol::PRODUCE, version, "Produce", &body)?;
            let results =
                protocol::parse_produce(version, &answer).map_err(|source| KafkaError::Wire {
                    server: conn.server.clone(),
                    api: "Produce",
                    source,
                })?;
            let result = results
                .into_iter()
                .find(|r| r.topic == topic && r.partition == route.partition)
                .ok_or_else(|| KafkaError::NoResult {
                    server: conn.server.clone(),
                })?;
            if result.error != 0 {
                return Err(KafkaError::Broker {
                    server: conn.server.clone(),
                    api: "Produce",
                    code: result.error,
                    name: protocol::error_name(result.error),
                    message: result.message,
                });
            }
            Ok((route.partition, result.base_offset))
        })
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Runs `op` until it succeeds, fails finally, has been tried [`TRIES`] times, or the
    /// deadline would pass during the next wait.
    fn retrying<T>(&self, op: impl Fn() -> Result<T, KafkaError>) -> Result<T, KafkaError> {
        let mut wait = Duration::from_millis(100);
        let mut tries = 0;
        loop {
            tries += 1;
            match op() {
                Ok(v) => return Ok(v),
                Err(e) if !e.retriable() || tries >= TRIES => return Err(e),
                Err(e) => {
                    let pause = crate::net::jitter(wait);
                    if self.remaining() <= pause {
                        return Err(KafkaError::Deadline {
                            last: e.to_string(),
                        });
                    }
                    tracing::debug!("kafka: {e}; trying again");
                    std::thread::sleep(pause);
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// The topic's route, from the first bootstrap server that answers, with that connection.
    fn route(&self, topic: &str) -> Result<(Option<Connection>, Route), KafkaError> {
        let mut last = None;
        for server in &self.bootstrap {
            let mut conn = match self.connect(server) {
                Ok(c) => c,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            let metadata = conn.metadata(topic)?;
            let route = pick_route(&conn.server, topic, &metadata)?;
            return Ok((Some(conn), route));
        }
        Err(last.unwrap_or(KafkaError::NoLeader))
    }

    fn connect(&self, server: &Server) -> Result<Connection, KafkaError> {
        let name = server.to_string();
        let ips = self.resolver.resolve(&server.host, self.deadline)?;
        let mut last = None;
        for ip in ips {
            let left = self.remaining();
            if left.is_zero() {
                return Err(KafkaError::Deadline {
                    last: format!("connecting to {name}"),
                });
            }
            match TcpStream::connect_timeout(&SocketAddr::new(ip, server.port), left.min(ATTEMPT)) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    let mut conn = Connection {
                        server: name,
                        stream,
                        next_id: 1,
                        versions: Vec::new(),
                        deadline: self.deadline,
                    };
                    conn.api_versions()?;
                    return Ok(conn);
                }
                Err(source) => last = Some(source),
            }
        }
        Err(KafkaError::Connect {
            server: name,
            source: last.unwrap_or_else(|| std::io::Error::other("no address")),
        })
    }
}

/// The first partition (by index) that has a leader, and that leader's address.
pub fn pick_route(server: &str, topic: &str, metadata: &Metadata) -> Result<Route, KafkaError> {
    let Some(t) = metadata.topics.iter().find(|t| t.name == topic) else {
        return Err(KafkaError::NoTopic);
    };
    match t.error {
        0 => {}
        3 => return Err(KafkaError::NoTopic),
        code => {
            return Err(KafkaError::Broker {
                server: server.into(),
                api: "Metadata",
                code,
                name: protocol::error_name(code),
                message: None,
            });
        }
    }
    let mut partitions: Vec<_> = t
        .partitions
        .iter()
        .filter(|p| p.error == 0 && p.leader >= 0)
        .collect();
    partitions.sort_by_key(|p| p.index);
    let Some(p) = partitions.first() else {
        return Err(KafkaError::NoLeader);
    };
    let leader = metadata
        .brokers
        .iter()
        .find(|b| b.node_id == p.leader)
        .and_then(|b| {
            Some(Server {
                host: b.host.clone(),
                port: u16::try_from(b.port).ok().filter(|p| *p != 0)?,
            })
        })
        .ok_or_else(|| KafkaError::UnknownLeader {
            server: server.into(),
            partition: p.index,
            node: p.leader,
        })?;
    Ok(Route {
        partition: p.index,
        leader,
    })
}

impl Connection {
    fn api_versions(&mut self) -> Result<(), KafkaError> {
        let answer = self.request(protocol::API_VERSIONS, 0, "ApiVersions", &[])?;
        let (error, versions) =
            protocol::parse_api_versions(&answer).map_err(|source| KafkaError::Wire {
                server: self.server.clone(),
                api: "ApiVersions",
                source,
            })?;
        if error != 0 {
            return Err(self.broker_error("ApiVersions", error));
        }
        self.versions = versions;
        Ok(())
    }

    fn version(
        &self,
        key: i16,
        api: &'static str,
        spoken: &'static str,
    ) -> Result<i16, KafkaError> {
        protocol::pick(key, &self.versions).ok_or_else(|| KafkaError::Unsupported {
            server: self.server.clone(),
            api,
            spoken,
        })
    }

    fn metadata(&mut self, topic: &str) -> Result<Metadata, KafkaError> {
        let version = self.version(protocol::METADATA, "Metadata", "v1-v8")?;
        let body = protocol::metadata_request(version, topic);
        let answer = self.request(protocol::METADATA, version, "Metadata", &body)?;
        protocol::parse_metadata(version, &answer).map_err(|source| KafkaError::Wire {
            server: self.server.clone(),
            api: "Metadata",
            source,
        })
    }

    fn broker_error(&self, api: &'static str, code: i16) -> KafkaError {
        KafkaError::Broker {
            server: self.server.clone(),
            api,
            code,
            name: protocol::error_name(code),
            message: None,
        }
    }

    /// Sends one request and reads its answer's body, every byte within the deadline.
    fn request(
        &mut self,
        key: i16,
        version: i16,
        api: &'static str,
        body: &[u8],
    ) -> Result<Vec<u8>, KafkaError> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let frame = protocol::frame(key, version, id, CLIENT_ID, body);
        self.bound(api)?;
        self.stream.write_all(&frame).map_err(|e| self.io(api, e))?;
        let mut size = [0u8; 4];
        self.read_exact(api, &mut size, true)?;
        let size = i32::from_be_bytes(size);
        if !(4..=MAX_ANSWER as i32).contains(&size) {
            return Err(KafkaError::Size {
                server: self.server.clone(),
                api,
                size: size.into(),
            });
        }
        let mut answer = vec![0u8; size as usize];
        self.read_exact(api, &mut answer, false)?;
        let (got, _) = protocol::answer_header(&answer).map_err(|source| KafkaError::Wire {
            server: self.server.clone(),
            api,
            source,
        })?;
        if got != id {
            return Err(KafkaError::Correlation {
                server: self.server.clone(),
                api,
                sent: id,
                got,
            });
        }
        answer.drain(..4);
        Ok(answer)
    }

    /// Sets the socket's timeouts to what is left of the deadline (at most [`ATTEMPT`]).
    fn bound(&self, api: &'static str) -> Result<(), KafkaError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(KafkaError::Deadline {
                last: format!("{}: {api} not answered", self.server),
            });
        }
        let t = Some(left.min(ATTEMPT));
        self.stream
            .set_read_timeout(t)
            .and_then(|()| self.stream.set_write_timeout(t))
            .map_err(|e| self.io(api, e))
    }

    /// Reads exactly `buf.len()` bytes, re-bounding every read so that a broker trickling
    /// bytes cannot stretch the deadline. End of stream before the first byte of an answer
    /// is a closed connection.
    fn read_exact(
        &mut self,
        api: &'static str,
        buf: &mut [u8],
        first: bool,
    ) -> Result<(), KafkaError> {
        let mut done = 0;
        while done < buf.len() {
            self.bound(api)?;
            match self.stream.read(&mut buf[done..]) {
                Ok(0) if first && done == 0 => {
                    return Err(KafkaError::Closed {
                        server: self.server.clone(),
                        api,
                    });
                }
                Ok(0) => {
                    return Err(self.io(api, std::io::ErrorKind::UnexpectedEof.into()));
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(api, e)),
            }
        }
        Ok(())
    }

    fn io(&self, api: &'static str, source: std::io::Error) -> KafkaError {
        use std::io::ErrorKind::{TimedOut, WouldBlock};
        let source = match source.kind() {
            TimedOut | WouldBlock => std::io::Error::new(TimedOut, "no answer in time"),
            _ => source,
        };
        KafkaError::Io {
            server: self.server.clone(),
            api,
            source,
        }
    }
}
