//! Storage `kafka` (also `pubsub`): Chains' `pubsub` backend with provider `kafka`, one Kafka
//! message per signed artifact on `storage.pubsub.topic`.
//!
//! Chains publishes through gocloud's `kafkapubsub` with no message key, so every message has:
//!
//! ```text
//! key                 none (null)
//! value               the signature: the DSSE envelope's JSON for the attestation (the raw
//!                     signature for format `tekton`), the raw signature bytes for an image
//! header payload      base64 of the signed payload (the statement, or the simple-signing payload)
//! header signature    the same bytes as the value
//! ```
//!
//! The attestation comes first, then one message per image signature, all in one record
//! batch to one partition, so a run's messages are appended together or not at all.
//!
//! A log is not a key-value store: a re-run appends the messages again (Chains' would too),
//! and because Chains sets no key, a compacted topic cannot fold them into one (Kafka refuses
//! keyless records on compacted topics). Consumers tell repeats apart by the payload.
//!
//! [`KafkaBackend::preflight`] asks the broker for the topic's metadata without creating it,
//! so a missing topic fails the run before any backend has written anything.

use base64::Engine as _;

use super::{Backend, Batch, Context, Registration, StorageError};
use crate::config::StorageName;
use crate::kafka::{Producer, Server, protocol::Record};
use crate::net::HostPort;

pub const PROVIDER: &str = "storage.pubsub.provider";
pub const TOPIC: &str = "storage.pubsub.topic";
pub const SERVERS: &str = "storage.pubsub.kafka.bootstrap.servers";

pub struct KafkaBackend {
    name: &'static str,
    topic: String,
    servers: String,
    producer: Producer,
}

fn open(ctx: &Context<'_>, name: StorageName) -> Result<Box<dyn Backend>, StorageError> {
    let both = [StorageName::Kafka, StorageName::Pubsub]
        .iter()
        .all(|n| listed(ctx, *n));
    if both {
        return Err(StorageError::Config {
            key: "artifacts.*.storage",
            message: "lists both kafka and pubsub, which name the same backend: list one, or \
                      every message would be published twice"
                .into(),
        });
    }
    let provider = ctx.config.get(PROVIDER);
    match (name, provider) {
        (_, "kafka") | (StorageName::Kafka, "") => {}
        (_, "") => {
            return Err(StorageError::Config {
                key: PROVIDER,
                message: "must be kafka for storage pubsub".into(),
            });
        }
        (_, other) => {
            return Err(StorageError::Config {
                key: PROVIDER,
                message: format!("{other:?}: not supported yet (chainlet publishes to kafka only)"),
            });
        }
    }
    let topic = ctx.config.get(TOPIC).trim();
    if topic.is_empty() {
        return Err(StorageError::Config {
            key: TOPIC,
            message: format!("is empty: storage {name} needs the topic to publish to"),
        });
    }
    if topic.len() > 249 {
        return Err(StorageError::Config {
            key: TOPIC,
            message: "is longer than Kafka's 249 characters".into(),
        });
    }
    let servers = ctx.config.get(SERVERS);
    let bootstrap = parse_servers(servers).map_err(|message| StorageError::Config {
        key: SERVERS,
        message,
    })?;
    Ok(Box::new(KafkaBackend {
        name: name.as_str(),
        topic: topic.to_owned(),
        servers: servers.trim().to_owned(),
        producer: Producer::new(
            bootstrap,
            crate::net::resolve::Resolver::from_system(),
            ctx.deadline,
        ),
    }))
}

fn listed(ctx: &Context<'_>, name: StorageName) -> bool {
    use crate::config::ArtifactType::*;
    [TaskRun, PipelineRun, Oci]
        .iter()
        .any(|t| ctx.config.stores(*t, name))
}

pub const REGISTRATION: Registration = Registration {
    name: StorageName::Kafka,
    open: |ctx| open(ctx, StorageName::Kafka),
};

pub const PUBSUB_REGISTRATION: Registration = Registration {
    name: StorageName::Pubsub,
    open: |ctx| open(ctx, StorageName::Pubsub),
};

/// `host:port[,host:port…]`. Chains hands the whole value to its client as one address;
/// chainlet also takes a comma-separated list, as Kafka clients do. The port defaults to
/// 9092; a `PLAINTEXT://` prefix is allowed, any other listener scheme is refused.
pub fn parse_servers(value: &str) -> Result<Vec<Server>, String> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bare = match item.split_once("://") {
            None => item,
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("plaintext") => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "{item:?}: {scheme} listeners (TLS or SASL) are not supported yet; chainlet \
                     connects over plain TCP only"
                ));
            }
        };
        let hp = HostPort::parse(bare).map_err(|e| format!("{item:?}: {e}"))?;
        out.push(Server {
            host: hp.host,
            port: hp.port.unwrap_or(9092),
        });
    }
    if out.is_empty() {
        return Err("is empty: name the Kafka brokers as host:port".into());
    }
    Ok(out)
}

/// The messages of a batch, in Chains' layout: the attestation, then each image signature.
pub fn records(batch: &Batch<'_>) -> Vec<Record> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let message = |payload: &[u8], signature: Vec<u8>| Record {
        key: None,
        headers: vec![
            ("payload".into(), b64(payload).into_bytes()),
            ("signature".into(), signature.clone()),
        ],
        value: signature,
    };
    let mut out = Vec::new();
    if let Some(att) = batch.attestation {
        let signature = att.signature_bytes();
        out.push(message(&att.statement, signature));
    }
    for image in &batch.images {
        // The signature is chainlet's own base64; it decodes.
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&image.signature)
            .unwrap_or_default();
        out.push(message(&image.payload, raw));
    }
    out
}

impl KafkaBackend {
    fn error(&self, source: crate::kafka::KafkaError) -> StorageError {
        StorageError::Kafka {
            backend: self.name,
            topic: self.topic.clone(),
            servers: self.servers.clone(),
            source: Box::new(source),
        }
    }
}

impl Backend for KafkaBackend {
    fn name(&self) -> &'static str {
        self.name
    }

    /// The topic exists and a partition has a leader (Metadata, never creating the topic).
    fn preflight(&self) -> Result<(), StorageError> {
        self.producer
            .check_topic(&self.topic)
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        let records = records(batch);
        if records.is_empty() {
            return Ok(());
        }
        let (partition, offset) = self
            .producer
            .publish(&self.topic, &records)
            .map_err(|e| self.error(e))?;
        tracing::info!(
            topic = %self.topic,
            partition,
            offset,
            messages = records.len(),
            "published"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_servers_are_a_list_with_kafkas_default_port() {
        let s = parse_servers(" a:1, PLAINTEXT://b ,[::1]:3").unwrap();
        assert_eq!(
            s,
            vec![
                Server {
                    host: "a".into(),
                    port: 1
                },
                Server {
                    host: "b".into(),
                    port: 9092
                },
                Server {
                    host: "[::1]".into(),
                    port: 3
                },
            ]
        );
        let e = parse_servers("SASL_SSL://k:9093").unwrap_err();
        assert!(e.contains("not supported yet"), "{e}");
        assert!(parse_servers(" , ").is_err());
        assert!(parse_servers("a:0").is_err());
    }
}
