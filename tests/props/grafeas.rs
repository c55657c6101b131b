//! Grafeas' answers (`parse_occurrence_list`, `parse_created`) and the statement conversion
//! for build occurrences (`intoto_statement`, `subject_uris`) over any bytes and any JSON: a
//! value or an error, never a panic.

use proptest::prelude::*;
use serde_json::{Value, json};

use chainlet::storage::grafeas::{
    intoto_statement, parse_created, parse_occurrence_list, subject_uris,
};

use crate::support::{self, json_value, near_json};

proptest! {
    #![proptest_config(support::cases(256))]

    #[test]
    fn any_answer_bytes_are_a_value_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_occurrence_list(&bytes);
        let _ = parse_created(&bytes);
    }

    #[test]
    fn near_misses_of_an_occurrence_list_are_a_value_or_an_error(
        bytes in near_json(json!({"occurrences":[{"name":"projects/p/occurrences/1","resourceUri":"r@sha256:ab",
            "envelope":{"payload":"e30=","signatures":[{"sig":"c2ln"}]}}],"nextPageToken":"t"}), &[])
    ) {
        let _ = parse_occurrence_list(&bytes);
        let _ = parse_created(&bytes);
    }

    #[test]
    fn any_statement_converts_or_is_refused(v in json_value(), predicate in json_value()) {
        let st = json!({"_type": "x", "subject": [{"name": "n", "digest": v.clone()}], "predicate": predicate});
        if let Ok(out) = intoto_statement(&st) {
            prop_assert!(out["slsaProvenanceZeroTwo"].is_object());
        }
        let _ = intoto_statement(&v);
        let _ = subject_uris(&v);
        let _: Vec<String> = subject_uris(&Value::Array(vec![v]));
    }
}
