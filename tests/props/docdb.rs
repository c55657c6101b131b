//! Storage docdb's parsers: `storage.docdb.url` (`storage::docdb::url::parse`), DynamoDB's
//! answers (`dynamodb::Answer::read`, then DescribeTable's fields as preflight reads them), and
//! the item encoding of any JSON payload (`dynamodb::attribute`).

use proptest::prelude::*;
use serde_json::json;

use chainlet::storage::docdb::dynamodb::{Answer, attribute};
use chainlet::storage::docdb::url;

use crate::support::{self, any_bytes, json_value, near_json, near_str};

const URLS: &[&str] = &[
    "dynamodb://chains-docs?partition_key=Name&sort_key=Signature&region=eu-west-1&endpoint=http%3A%2F%2F127.0.0.1%3A1",
    "firestore://projects/p/databases/(default)/documents/c?name_field=Name",
    "mongo://user:pw@host:27017/db/coll?id_field=Name",
];

fn describe_table() -> serde_json::Value {
    json!({"Table": {"TableName": "t", "TableStatus": "ACTIVE",
        "KeySchema": [{"AttributeName": "Name", "KeyType": "HASH"}]}})
}

proptest! {
    #![proptest_config(support::cases(256))]

    #[test]
    fn docstore_urls_parse_or_fail_without_panicking(raw in near_str(URLS)) {
        if let Err(e) = url::parse(&raw) {
            prop_assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn dynamodb_answers_are_read_without_panicking(
        status in prop_oneof![Just(200u16), Just(400u16), 100u16..600],
        body in prop_oneof![any_bytes(), near_json(describe_table(), &[])],
    ) {
        let a = Answer::read(status, &body);
        prop_assert_eq!(a.error_type.is_none(), status == 200);
        let t = &a.body["Table"];
        let _ = (t["TableStatus"].as_str(), t["KeySchema"].as_array());
    }

    #[test]
    fn every_json_value_has_an_attribute_value(v in json_value()) {
        let av = attribute(&v);
        prop_assert!(av.as_object().is_some_and(|m| m.len() == 1));
    }
}
