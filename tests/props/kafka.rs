//! What a Kafka broker sends back: ApiVersions, Metadata and Produce answers
//! (`kafka::protocol::parse_*`), the answer header, and the route picked from any metadata
//! that parsed. Arbitrary bytes, and real answers cut short, flipped or given huge counts,
//! must each end in a value or an error, never a panic or a huge allocation.

use proptest::prelude::*;

use chainlet::kafka::pick_route;
use chainlet::kafka::protocol::{self, Broker, Metadata, Partition, TopicMetadata};
use chainlet::kafka::wire::{Reader, Writer};

use crate::support;

/// A Metadata answer of `version` as a broker encodes it.
fn metadata_answer(version: i16, m: &Metadata) -> Vec<u8> {
    let mut w = Writer::default();
    if version >= 3 {
        w.i32(0);
    }
    w.i32(m.brokers.len() as i32);
    for b in &m.brokers {
        w.i32(b.node_id).string(&b.host).i32(b.port);
        if version >= 1 {
            w.null_string();
        }
    }
    if version >= 2 {
        w.string("cluster");
    }
    if version >= 1 {
        w.i32(1);
    }
    w.i32(m.topics.len() as i32);
    for t in &m.topics {
        w.i16(t.error).string(&t.name);
        if version >= 1 {
            w.bool(false);
        }
        w.i32(t.partitions.len() as i32);
        for p in &t.partitions {
            w.i16(p.error).i32(p.index).i32(p.leader);
            if version >= 7 {
                w.i32(0);
            }
            w.i32(1).i32(p.leader).i32(1).i32(p.leader);
            if version >= 5 {
                w.i32(0);
            }
        }
        if version >= 8 {
            w.i32(0);
        }
    }
    if version >= 8 {
        w.i32(0);
    }
    w.buf
}

fn metadata() -> impl Strategy<Value = Metadata> {
    let broker =
        (any::<i32>(), "[a-z0-9.-]{0,20}", any::<i32>()).prop_map(|(node_id, host, port)| Broker {
            node_id,
            host,
            port,
        });
    let partition =
        (any::<i16>(), any::<i32>(), -1i32..4).prop_map(|(error, index, leader)| Partition {
            error,
            index,
            leader,
        });
    let topic = (
        prop_oneof![Just(0i16), any::<i16>()],
        "[a-z]{1,8}",
        prop::collection::vec(partition, 0..4),
    )
        .prop_map(|(error, name, partitions)| TopicMetadata {
            error,
            name,
            partitions,
        });
    (
        prop::collection::vec(broker, 0..4),
        prop::collection::vec(topic, 0..3),
    )
        .prop_map(|(brokers, topics)| Metadata { brokers, topics })
}

/// Every parser over the same bytes; a metadata that parsed also goes through route picking.
fn parse_all(bytes: &[u8]) {
    let _ = protocol::parse_api_versions(bytes);
    let _ = protocol::answer_header(bytes);
    for version in 1..=8 {
        if let Ok(m) = protocol::parse_metadata(version, bytes) {
            for t in &m.topics {
                let _ = pick_route("broker:9092", &t.name, &m);
            }
        }
    }
    for version in 3..=8 {
        let _ = protocol::parse_produce(version, bytes);
    }
    let mut r = Reader::new(bytes);
    while r.varbytes("record").is_ok_and(|b| b.is_some()) {}
}

proptest! {
    #![proptest_config(support::cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_any_kafka_parser(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_all(&bytes);
    }

    #[test]
    fn a_real_metadata_answer_parses_back_and_its_near_misses_do_not_panic(
        m in metadata(),
        version in 1i16..=8,
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let answer = metadata_answer(version, &m);
        let parsed = protocol::parse_metadata(version, &answer).unwrap();
        prop_assert_eq!(&parsed, &m);
        for t in &m.topics {
            // A route, when there is one, leads to a listed broker with a real port.
            if let Ok(route) = pick_route("b:1", &t.name, &parsed) {
                prop_assert!(route.leader.port != 0);
                prop_assert!(m.brokers.iter().any(|b| b.host == route.leader.host));
            }
        }
        parse_all(&answer[..cut.index(answer.len() + 1)]);
        let mut flipped = answer.clone();
        if !flipped.is_empty() {
            let i = flip.index(flipped.len());
            flipped[i] = byte;
        }
        parse_all(&flipped);
        // A count of 2^31-1 brokers in a short answer is refused before allocating.
        let mut huge = answer;
        let at = if version >= 3 { 4 } else { 0 };
        huge[at..at + 4].copy_from_slice(&i32::MAX.to_be_bytes());
        prop_assert!(protocol::parse_metadata(version, &huge).is_err());
    }
}
