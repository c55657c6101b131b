//! The three requests a producer needs, in the versions chainlet speaks, and their answers.
//!
//! | API (key)        | versions | why these |
//! |------------------|----------|-----------|
//! | ApiVersions (18) | 0        | every broker answers v0, whatever it supports |
//! | Metadata (3)     | 1–8      | v4+ can say "do not create the topic"; v9+ are "flexible" (tagged fields) |
//! | Produce (0)      | 3–8      | v3 is the first with v2 record batches (headers); v9+ are flexible |
//!
//! The highest version both sides support is used. Request headers are v1 (api key, version,
//! correlation id, client id); answers have header v0 (the correlation id).

use super::wire::{Reader, WireError, Writer, crc32c};

pub const PRODUCE: i16 = 0;
pub const METADATA: i16 = 3;
pub const API_VERSIONS: i16 = 18;

/// The versions chainlet can speak, per API: (key, lowest, highest).
pub const SPOKEN: &[(i16, i16, i16)] = &[(API_VERSIONS, 0, 0), (METADATA, 1, 8), (PRODUCE, 3, 8)];

/// A request frame: size, header v1, body.
pub fn frame(
    api_key: i16,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut w = Writer::default();
    w.i32(0)
        .i16(api_key)
        .i16(version)
        .i32(correlation_id)
        .string(client_id);
    w.buf.extend_from_slice(body);
    let size = (w.buf.len() - 4) as i32;
    w.buf[..4].copy_from_slice(&size.to_be_bytes());
    w.buf
}

/// Splits an answer into its correlation id and body.
pub fn answer_header(frame: &[u8]) -> Result<(i32, &[u8]), WireError> {
    let mut r = Reader::new(frame);
    let id = r.i32("correlation id")?;
    Ok((id, &frame[4..]))
}

/// One API's version range, as the broker states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRange {
    pub key: i16,
    pub min: i16,
    pub max: i16,
}

/// ApiVersions v0's answer: an error code and the broker's ranges.
pub fn parse_api_versions(body: &[u8]) -> Result<(i16, Vec<ApiRange>), WireError> {
    let mut r = Reader::new(body);
    let error = r.i16("error code")?;
    let n = r.count("api keys", 6)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(ApiRange {
            key: r.i16("api key")?,
            min: r.i16("min version")?,
            max: r.i16("max version")?,
        });
    }
    // A v0 answer to a newer broker may carry a throttle time after it; nothing else follows.
    Ok((error, out))
}

/// The highest version of `key` that both chainlet and the broker speak.
pub fn pick(key: i16, broker: &[ApiRange]) -> Option<i16> {
    let &(_, lo, hi) = SPOKEN.iter().find(|s| s.0 == key)?;
    let b = broker.iter().find(|b| b.key == key)?;
    let v = hi.min(b.max);
    (v >= lo.max(b.min)).then_some(v)
}

/// Metadata for one topic, without creating it (v4+).
pub fn metadata_request(version: i16, topic: &str) -> Vec<u8> {
    let mut w = Writer::default();
    w.i32(1).string(topic);
    if version >= 4 {
        w.bool(false);
    }
    if version >= 8 {
        w.bool(false).bool(false);
    }
    w.buf
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub error: i16,
    pub index: i32,
    pub leader: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    pub error: i16,
    pub name: String,
    pub partitions: Vec<Partition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub brokers: Vec<Broker>,
    pub topics: Vec<TopicMetadata>,
}

/// Metadata v1–v8's answer.
pub fn parse_metadata(version: i16, body: &[u8]) -> Result<Metadata, WireError> {
    let mut r = Reader::new(body);
    if version >= 3 {
        r.i32("throttle time")?;
    }
    let n = r.count("brokers", 12)?;
    let mut brokers = Vec::with_capacity(n);
    for _ in 0..n {
        let node_id = r.i32("node id")?;
        let host = r.string("broker host")?;
        let port = r.i32("broker port")?;
        if version >= 1 {
            r.nullable_string("rack")?;
        }
        brokers.push(Broker {
            node_id,
            host,
            port,
        });
    }
    if version >= 2 {
        r.nullable_string("cluster id")?;
    }
    if version >= 1 {
        r.i32("controller id")?;
    }
    let n = r.count("topics", 8)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let error = r.i16("topic error code")?;
        let name = r.string("topic name")?;
        if version >= 1 {
            r.bool("is internal")?;
        }
        let pn = r.count("partitions", 18)?;
        let mut partitions = Vec::with_capacity(pn);
        for _ in 0..pn {
            let error = r.i16("partition error code")?;
            let index = r.i32("partition index")?;
            let leader = r.i32("leader id")?;
            if version >= 7 {
                r.i32("leader epoch")?;
            }
            r.skip_i32_array("replica nodes")?;
            r.skip_i32_array("isr nodes")?;
            if version >= 5 {
                r.skip_i32_array("offline replicas")?;
            }
            partitions.push(Partition {
                error,
                index,
                leader,
            });
        }
        if version >= 8 {
            r.i32("topic authorized operations")?;
        }
        topics.push(TopicMetadata {
            error,
            name,
            partitions,
        });
    }
    if version >= 8 {
        r.i32("cluster authorized operations")?;
    }
    r.finish()?;
    Ok(Metadata { brokers, topics })
}

/// One record: no key (Chains sets none), a value and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// A v2 record batch ("magic 2") of uncompressed records, all with `timestamp_ms`, outside any
/// transaction and without an idempotent producer id.
pub fn record_batch(records: &[Record], timestamp_ms: i64) -> Vec<u8> {
    let mut body = Writer::default();
    for (i, rec) in records.iter().enumerate() {
        let mut one = Writer::default();
        one.i8(0) // attributes (unused)
            .varlong(0) // timestamp delta
            .varint(i as i32) // offset delta
            .varbytes(rec.key.as_deref())
            .varbytes(Some(&rec.value))
            .varint(rec.headers.len() as i32);
        for (k, v) in &rec.headers {
            one.varbytes(Some(k.as_bytes())).varbytes(Some(v));
        }
        body.varint(one.buf.len() as i32);
        body.buf.extend_from_slice(&one.buf);
    }
    // What the CRC covers: attributes to the end.
    let mut tail = Writer::default();
    tail.i16(0) // attributes: no compression, CreateTime, not transactional
        .i32(records.len().saturating_sub(1) as i32) // last offset delta
        .i64(timestamp_ms) // first timestamp
        .i64(timestamp_ms) // max timestamp
        .i64(-1) // producer id
        .i16(-1) // producer epoch
        .i32(-1) // base sequence
        .i32(records.len() as i32);
    tail.buf.extend_from_slice(&body.buf);
    let mut w = Writer::default();
    w.i64(0) // base offset (the broker assigns offsets)
        .i32((4 + 1 + 4 + tail.buf.len()) as i32) // batch length: from the leader epoch on
        .i32(-1) // partition leader epoch
        .i8(2) // magic
        .i32(crc32c(&tail.buf) as i32);
    w.buf.extend_from_slice(&tail.buf);
    w.buf
}

/// A Produce request of one batch to one partition.
pub fn produce_request(
    acks: i16,
    timeout_ms: i32,
    topic: &str,
    partition: i32,
    batch: &[u8],
) -> Vec<u8> {
    let mut w = Writer::default();
    w.null_string() // transactional id (v3+)
        .i16(acks)
        .i32(timeout_ms)
        .i32(1)
        .string(topic)
        .i32(1)
        .i32(partition)
        .bytes(batch);
    w.buf
}

/// What the broker said about one partition of a Produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceResult {
    pub topic: String,
    pub partition: i32,
    pub error: i16,
    pub base_offset: i64,
    /// v8+: the broker's own words, when it gave any.
    pub message: Option<String>,
}

/// Produce v3–v8's answer.
pub fn parse_produce(version: i16, body: &[u8]) -> Result<Vec<ProduceResult>, WireError> {
    let mut r = Reader::new(body);
    let n = r.count("topic responses", 4)?;
    let mut out = Vec::new();
    for _ in 0..n {
        let topic = r.string("topic name")?;
        let pn = r.count("partition responses", 22)?;
        for _ in 0..pn {
            let partition = r.i32("partition index")?;
            let error = r.i16("error code")?;
            let base_offset = r.i64("base offset")?;
            if version >= 2 {
                r.i64("log append time")?;
            }
            if version >= 5 {
                r.i64("log start offset")?;
            }
            let mut message = None;
            if version >= 8 {
                let en = r.count("record errors", 6)?;
                for _ in 0..en {
                    r.i32("batch index")?;
                    r.nullable_string("record error message")?;
                }
                message = r.nullable_string("error message")?;
            }
            out.push(ProduceResult {
                topic: topic.clone(),
                partition,
                error,
                base_offset,
                message,
            });
        }
    }
    if version >= 1 {
        r.i32("throttle time")?;
    }
    r.finish()?;
    Ok(out)
}

/// Error codes a producer may retry: the leader moved, a replica is behind, a timeout.
pub fn retriable(code: i16) -> bool {
    matches!(code, 2 | 5 | 6 | 7 | 8 | 13 | 19 | 20 | 56 | 74 | 75 | 89)
}

/// The protocol's name of an error code, for messages.
pub fn error_name(code: i16) -> &'static str {
    match code {
        -1 => "UNKNOWN_SERVER_ERROR",
        1 => "OFFSET_OUT_OF_RANGE",
        2 => "CORRUPT_MESSAGE",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        4 => "INVALID_FETCH_SIZE",
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        7 => "REQUEST_TIMED_OUT",
        8 => "BROKER_NOT_AVAILABLE",
        10 => "MESSAGE_TOO_LARGE",
        13 => "NETWORK_EXCEPTION",
        17 => "INVALID_TOPIC_EXCEPTION",
        18 => "RECORD_LIST_TOO_LARGE",
        19 => "NOT_ENOUGH_REPLICAS",
        20 => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        21 => "INVALID_REQUIRED_ACKS",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        31 => "CLUSTER_AUTHORIZATION_FAILED",
        34 => "ILLEGAL_SASL_STATE",
        35 => "UNSUPPORTED_VERSION",
        42 => "INVALID_REQUEST",
        43 => "UNSUPPORTED_FOR_MESSAGE_FORMAT",
        56 => "KAFKA_STORAGE_ERROR",
        58 => "SASL_AUTHENTICATION_FAILED",
        74 => "FENCED_LEADER_EPOCH",
        75 => "UNKNOWN_LEADER_EPOCH",
        87 => "INVALID_RECORD",
        89 => "THROTTLING_QUOTA_EXCEEDED",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_batch_has_its_length_and_checksum_where_brokers_look() {
        let batch = record_batch(
            &[Record {
                key: None,
                value: b"v".to_vec(),
                headers: vec![("payload".into(), b"p".to_vec())],
            }],
            1_700_000_000_000,
        );
        let mut r = Reader::new(&batch);
        assert_eq!(r.i64("base").unwrap(), 0);
        let len = r.i32("len").unwrap() as usize;
        assert_eq!(len, batch.len() - 12);
        r.i32("epoch").unwrap();
        assert_eq!(r.i8("magic").unwrap(), 2);
        let crc = r.i32("crc").unwrap() as u32;
        assert_eq!(crc, crc32c(&batch[21..]));
    }

    #[test]
    fn the_version_picked_is_the_highest_both_sides_speak() {
        let broker = [
            ApiRange {
                key: PRODUCE,
                min: 0,
                max: 11,
            },
            ApiRange {
                key: METADATA,
                min: 0,
                max: 2,
            },
        ];
        assert_eq!(pick(PRODUCE, &broker), Some(8));
        assert_eq!(pick(METADATA, &broker), Some(2));
        let old = [ApiRange {
            key: PRODUCE,
            min: 0,
            max: 2,
        }];
        assert_eq!(pick(PRODUCE, &old), None);
    }

    #[test]
    fn a_produce_answer_parses_per_version() {
        for version in 3..=8 {
            let mut w = Writer::default();
            w.i32(1)
                .string("chains")
                .i32(1)
                .i32(0)
                .i16(0)
                .i64(42)
                .i64(-1);
            if version >= 5 {
                w.i64(0);
            }
            if version >= 8 {
                w.i32(0).null_string();
            }
            w.i32(0);
            let got = parse_produce(version, &w.buf).unwrap();
            assert_eq!(got[0].base_offset, 42, "v{version}");
            assert!(parse_produce(version, &w.buf[..w.buf.len() - 1]).is_err());
        }
    }
}
