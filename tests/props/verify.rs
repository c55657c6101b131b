//! What `chainlet verify` reads (`verify::*`): DSSE envelopes and cosign's layer annotations
//! from a registry, in-toto Statements and SLSA predicates, policy files (YAML and JSON),
//! durations, predicate types and params from flags; and judging over whatever was found.
//! Each is a value or an error, never a panic.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use serde_json::json;

use chainlet::registry::layout::{DSSE_ENVELOPE, Descriptor, SIMPLESIGNING};
use chainlet::verify::evidence::{PublicKey, Requirement, Trust};
use chainlet::verify::found::{self, Found};
use chainlet::verify::policy::{self, Policy};
use chainlet::verify::{self, registry, statement, yaml};

use crate::support::{self, any_string, near_json, near_str};

const HEX: &str = "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5";

fn v1_statement() -> serde_json::Value {
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": "https://slsa.dev/provenance/v1",
        "subject": [{"name": "r.example/team/app", "digest": {"sha256": HEX}}],
        "predicate": {
            "buildDefinition": {
                "buildType": "https://tekton.dev/chains/v2/slsa",
                "externalParameters": {"runSpec": {"params": [{"name": "url", "value": "u"}]}},
                "internalParameters": {"k": ["v"]},
                "resolvedDependencies": [{"uri": "git+https://g", "digest": {"sha1": "00"}}]
            },
            "runDetails": {
                "builder": {"id": "https://tekton.dev/chains/v2"},
                "metadata": {"finishedOn": "2026-01-02T03:05:06Z"}
            }
        }
    })
}

fn v02_statement() -> serde_json::Value {
    json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "r.example/team/app", "digest": {"sha256": HEX}}],
        "predicate": {
            "builder": {"id": "https://tekton.dev/chains/v2"},
            "buildType": "tekton.dev/v1/TaskRun",
            "invocation": {"parameters": {"url": "u", "n": 1}},
            "metadata": {"buildFinishedOn": "2026-01-02T03:05:06Z"},
            "materials": [{"uri": "oci://x"}, {}]
        }
    })
}

fn full_policy() -> Policy {
    Policy {
        file: None,
        predicate_type: Some(statement::SLSA_V1.into()),
        builder_ids: vec!["https://tekton.dev/chains/v2".into()],
        build_types: vec!["https://tekton.dev/chains/v2/slsa".into()],
        max_age: Some(Duration::from_secs(3600)),
        params: vec![("url".into(), "u".into()), ("n".into(), "1".into())],
        allow_materials: vec!["git+".into()],
        require_materials: vec!["oci://".into()],
        require_signature: false,
    }
}

const POLICIES: &[&str] = &[
    "predicateType: slsaprovenance1\nbuilderIds:\n  - https://tekton.dev/chains/v2\nbuildTypes: [https://tekton.dev/chains/v2/slsa]\nmaxAge: 7d\nparams:\n  url: https://github.com/example/app\n  n: 1\nallowMaterials: [git+https://github.com/, 'oci://']\nrequireMaterials:\n- git+https://github.com/example/app\nrequireSignature: true\n",
    "{\"builderIds\": [\"a\"], \"maxAge\": \"1h30m\", \"params\": {\"a\": \"b\"}}",
    "# a comment\n---\nbuilderIds: \"x\"\n...\n",
    "a: &anchor [1]\nb: *anchor\n",
    "- [ {a: b}, \"c\" ]\n",
];

fn envelope_bytes(payload: &[u8]) -> serde_json::Value {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": b64.encode(payload),
        "signatures": [{"keyid": "", "sig": b64.encode([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])}]
    })
}

/// A setup with a fixed P-256 key and every check on.
fn setup() -> verify::Setup {
    use p256::pkcs8::EncodePublicKey as _;
    let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let pem = sk
        .verifying_key()
        .to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .unwrap();
    verify::Setup {
        trust: Trust {
            key: Some(PublicKey::from_pem(&pem).unwrap()),
            identity: None,
            root: None,
            tlog: Requirement::IfPresent,
            timestamp: Requirement::IfPresent,
        },
        policies: vec![full_policy(), Policy::default()],
        require_signature: true,
        now: SystemTime::now(),
    }
}

fn annotations() -> impl Strategy<Value = BTreeMap<String, String>> {
    let key = prop::sample::select(
        &[
            found::CERTIFICATE_ANNOTATION,
            found::CHAIN_ANNOTATION,
            found::BUNDLE_ANNOTATION,
            found::TIMESTAMP_ANNOTATION,
            "dev.cosignproject.cosign/signature",
            "predicateType",
        ][..],
    );
    let value = prop_oneof![
        any_string(),
        Just("{\"SignedRFC3161Timestamp\":\"AAEC\"}".to_owned()),
        Just(support::pem("CERTIFICATE", b"\x30\x03\x02\x01\x01")),
        Just(format!(
            "{}{}",
            support::pem("CERTIFICATE", b"\x30\x00"),
            support::pem("PUBLIC KEY", b"\x30\x00")
        )),
    ];
    prop::collection::btree_map(key.prop_map(str::to_owned), value, 0..5)
}

proptest! {
    #![proptest_config(support::cases(256))]

    /// Statements near chainlet's and Chains' parse or fail; what parses is read by every
    /// accessor and checked by a policy with every check on.
    #[test]
    fn statements_and_predicates_parse_or_fail(
        body in prop_oneof![
            near_json(v1_statement(), &[]),
            near_json(v02_statement(), &[]),
            support::any_bytes(),
        ],
        payload_type in prop_oneof![Just("application/vnd.in-toto+json".to_owned()), any_string()],
        name in any_string(),
    ) {
        if let Ok(st) = statement::parse(&payload_type, &body) {
            let _ = st.names_sha256(HEX);
            let _ = st.subject_digests();
            if let Ok(p) = statement::provenance(&st) {
                let _ = p.param(&name);
                let _ = p.param("url");
            }
            for p in [full_policy(), Policy::default()] {
                for r in p.check(&st, None, SystemTime::now()) {
                    prop_assert!(!r.contains('\n'), "{r}");
                }
                let _ = p.check(&st, Some(SystemTime::UNIX_EPOCH), SystemTime::now());
                let _ = p.counts(&st.predicate_type);
            }
        }
        let _ = statement::simple_signing_digest(&body);
    }

    /// YAML and JSON policy files are a policy or a one-line error.
    #[test]
    fn policy_files_parse_or_fail(
        text in prop_oneof![
            near_str(POLICIES),
            any_string(),
            // YAML's indicators and whitespace, where a scanner's states meet.
            "[-:\\[\\]{}#&*!|>'\"%@` \n\ta-z0-9?,.~]{0,64}",
        ],
        json_doc in near_json(json!({"predicateType": "slsaprovenance1", "builderIds": ["a"],
            "buildTypes": "b", "maxAge": "7d", "params": {"a": "b", "n": 2}, "allowMaterials": [],
            "requireMaterials": ["x"], "requireSignature": false}), &[]),
    ) {
        let _ = yaml::to_json(&text);
        for bytes in [text.as_bytes(), &json_doc[..]] {
            if let Err(e) = Policy::from_file(bytes, "p") {
                prop_assert!(!e.contains('\n'), "{e}");
            }
        }
    }

    /// Deep nesting in YAML is refused, not a stack overflow.
    #[test]
    fn deep_yaml_is_refused(depth in 60usize..5000, flow in any::<bool>()) {
        let text = if flow {
            format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
        } else {
            (0..depth.min(400)).map(|i| format!("{}- ", " ".repeat(i * 2))).collect::<Vec<_>>().join("\n")
        };
        let _ = yaml::to_json(&text);
    }

    /// Durations, predicate types and params from flags: a value or an error; a duration that
    /// parses is shown as one that parses to the same.
    #[test]
    fn flag_values_parse_or_fail(s in prop_oneof![
        any_string(),
        "[0-9]{1,25}[smhdw]([0-9]{1,5}[smhdwx])?",
        near_str(&["30m", "24h", "7d", "1h30m", "slsaprovenance1", "a=b"]),
    ]) {
        if let Ok(d) = policy::parse_duration(&s) {
            prop_assert_eq!(policy::parse_duration(&policy::show_duration(d)), Ok(d));
        }
        let _ = policy::predicate_type(&s);
        let _ = policy::parse_param(&s);
    }

    /// A registry's layers: an envelope or payload with any annotations is found or broken,
    /// and judging whatever was found gives a report with one-line reasons.
    #[test]
    fn layers_are_found_or_broken_and_judged(
        envelope in prop_oneof![
            near_json(envelope_bytes(&serde_json::to_vec(&v1_statement()).unwrap()), &[]),
            support::any_bytes(),
        ],
        payload in near_json(json!({"critical": {"identity": {"docker-reference": "r/a"},
            "image": {"docker-manifest-digest": format!("sha256:{HEX}")},
            "type": "cosign container image signature"}, "optional": null}), &[]),
        notes in annotations(),
        media in prop_oneof![Just(DSSE_ENVELOPE.to_owned()), Just(SIMPLESIGNING.to_owned()), any_string()],
    ) {
        let all: Vec<Found> = vec![
            registry::layer_found(&media, envelope.clone(), &notes, "r/a:t layer 1"),
            registry::layer_found(SIMPLESIGNING, payload, &notes, "r/a:t.sig layer 1"),
            found::envelope(&envelope, "e", &found::Beside::default()),
            found::bundle(&envelope, "b"),
        ];
        let _ = found::annotations(&notes);
        for v in notes.values() {
            let _ = found::pem_certificates(v);
            let _ = found::b64(v);
        }
        let report = verify::judge("img", Some(HEX), &all, &["here".into()], &setup());
        prop_assert!(!report.verified || !report.attestations.is_empty());
        for r in report.failures.iter().chain(&report.ignored) {
            prop_assert!(!r.contains('\n'), "{r}");
        }
        let _ = verify::report_json(&[report]);
        let _ = verify::judge("dir", None, &all, &[], &setup());
    }

    /// Referrer manifests and blobs: the bundle layer is found or not; a blob is checked
    /// against its descriptor.
    #[test]
    fn referrer_manifests_and_blobs(
        manifest in prop_oneof![
            near_json(json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": "sha256:44"},
                "layers": [{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "size": 2,
                    "digest": format!("sha256:{HEX}")}],
                "subject": {"mediaType": "m", "size": 1, "digest": format!("sha256:{HEX}")}}), &[]),
            support::any_bytes(),
        ],
        blob in support::any_bytes(),
        size in any::<u64>(),
    ) {
        let _ = registry::bundle_layer(&manifest, &format!("sha256:{HEX}"));
        let d = Descriptor {
            media_type: "m".into(),
            size,
            digest: chainlet::registry::sha256_digest(&blob),
            annotations: None,
            other: serde_json::Map::new(),
        };
        prop_assert_eq!(registry::check_blob(&d, &blob).is_ok(), size == blob.len() as u64);
    }
}
