//! Storage docdb's parsers: `storage.docdb.url` (`storage::docdb::url::parse`), DynamoDB's
//! answers (`dynamodb::Answer::read`, then DescribeTable's fields as preflight reads them),
//! Firestore's answers (`firestore::Answer::read`, then a listing's and a commit's fields), and
//! the encodings of any JSON payload (`dynamodb::attribute`, `firestore::value`) and of any
//! document (`firestore::commits`).

use proptest::prelude::*;
use serde_json::json;

use chainlet::storage::docdb::SignedDocument;
use chainlet::storage::docdb::dynamodb::{Answer, attribute};
use chainlet::storage::docdb::{firestore, url};

use crate::support::{self, any_bytes, json_value, near_json, near_str};

const URLS: &[&str] = &[
    "dynamodb://chains-docs?partition_key=Name&sort_key=Signature&region=eu-west-1&endpoint=http%3A%2F%2F127.0.0.1%3A1",
    "firestore://projects/p/databases/(default)/documents/c?name_field=Name",
    "firestore://projects/p/databases/db/documents/runs/team%2Da/./chains/../c?name_field=Cert&revision_field=R#f",
    "mongo://user:pw@host:27017/db/coll?id_field=Name",
];

fn describe_table() -> serde_json::Value {
    json!({"Table": {"TableName": "t", "TableStatus": "ACTIVE",
        "KeySchema": [{"AttributeName": "Name", "KeyType": "HASH"}]}})
}

fn firestore_listing() -> serde_json::Value {
    json!({"documents": [{"name": "projects/p/databases/(default)/documents/c/d",
        "fields": {"Signed": {"bytesValue": "e30="}}}], "nextPageToken": "x"})
}

fn firestore_error() -> serde_json::Value {
    json!({"error": {"code": 400, "message": "the stored version (0) does not match",
        "status": "FAILED_PRECONDITION"}})
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

    #[test]
    fn firestore_answers_are_read_without_panicking(
        status in prop_oneof![Just(200u16), Just(400u16), Just(404u16), 100u16..600],
        body in prop_oneof![
            any_bytes(),
            near_json(firestore_listing(), &[]),
            near_json(firestore_error(), &[]),
            near_json(json!({"writeResults": [{"updateTime": "t"}]}), &[]),
        ],
    ) {
        let a = firestore::Answer::read(status, &body);
        prop_assert_eq!(a.error_status.is_none(), (200..300).contains(&status));
        prop_assert!(!a.message.contains('\n'));
        let _ = (firestore::parse_list(&a.body), firestore::parse_commit(&a.body));
    }

    #[test]
    fn every_json_value_has_a_firestore_value_or_a_reason(v in json_value()) {
        match firestore::value(&v) {
            Ok(fv) => prop_assert!(fv.as_object().is_some_and(|m| m.len() == 1)),
            Err(e) => prop_assert!(!e.contains('\n')),
        }
    }

    #[test]
    fn any_document_becomes_commits_or_a_reason(
        name in support::any_string(),
        object in json_value(),
        name_field in prop_oneof![Just("Name"), Just("Signature"), Just("Cert")],
    ) {
        let coll = url::FirestoreUrl {
            project: "p".into(),
            database: "(default)".into(),
            collection: "c".into(),
            name_field: name_field.into(),
        };
        let doc = SignedDocument {
            name: name.clone(),
            signed: name.clone().into_bytes(),
            signature: name.clone(),
            cert: String::new(),
            chain: String::new(),
            object,
        };
        match firestore::commits(&coll, &[doc]) {
            Ok(commits) => {
                prop_assert_eq!(commits.len(), 1);
                let body: serde_json::Value = serde_json::from_slice(&commits[0].1).unwrap();
                prop_assert_eq!(body["writes"].as_array().map(Vec::len), Some(1));
            }
            Err(e) => prop_assert!(!e.contains('\n') || name.contains('\n')),
        }
    }
}
