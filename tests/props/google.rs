//! Answers from Google's servers: token answers (`cloud::google::parse_token`), object listings
//! and permission checks (`storage::gcs`). Any bytes give a value or an error.

use proptest::prelude::*;
use serde_json::json;

use chainlet::cloud::google::parse_token;
use chainlet::storage::gcs::{parse_listing, parse_permissions};

use crate::support::{self, near_json};

fn token_answer() -> serde_json::Value {
    json!({"access_token": "ya29.a0", "expires_in": 3599, "token_type": "Bearer"})
}

fn listing() -> serde_json::Value {
    json!({
        "kind": "storage#objects",
        "items": [{"name": "taskrun-ns-n/taskrun-u.payload", "size": "7", "crc32c": "z/fVag=="}],
        "nextPageToken": "t"
    })
}

proptest! {
    #![proptest_config(support::cases(256))]

    #[test]
    fn token_answers_never_panic(body in near_json(token_answer(), &[])) {
        let _ = parse_token(&body);
    }

    #[test]
    fn listings_never_panic(body in near_json(listing(), &[])) {
        let _ = parse_listing(&body);
    }

    #[test]
    fn permission_answers_never_panic(body in near_json(json!({"permissions": ["storage.objects.create"]}), &[])) {
        let _ = parse_permissions(&body);
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_token(&body);
        let _ = parse_listing(&body);
        let _ = parse_permissions(&body);
    }
}
