//! What a registry or its token server sends back, and Docker config files: manifests and
//! what a tag holds (`registry::layout::parse`, then `append` and `contains` over it),
//! `WWW-Authenticate` challenges (`registry::auth::parse_challenge`), token responses
//! (`registry::auth::TokenResponse`), and `config.json` / `.dockerconfigjson`
//! (`registry::auth::Keychain::load`).
//!
//! Retry-After is not here: it is read inline in `registry::Client::send` (no parser of its
//! own to call), and that file is being rewritten.

use proptest::prelude::*;
use serde_json::json;

use chainlet::registry::auth::{self, Keychain, TokenResponse};
use chainlet::registry::layout::{self, Layer};

use crate::support::{self, any_string, near_json, near_str};

fn manifest() -> serde_json::Value {
    json!({
        "schemaVersion": 2,
        "mediaType": layout::OCI_MANIFEST,
        "config": {"mediaType": layout::OCI_CONFIG, "size": 233,
                   "digest": "sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4"},
        "layers": [
            {"mediaType": layout::SIMPLESIGNING, "size": 250,
             "digest": "sha256:9e9e7b2f0fa27b0a7f06b6c4bb6ad7c6e6d0b8b0a1c5e0c4e0d5b8f7a9c1d2e3",
             "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="}},
            {"mediaType": layout::DSSE_ENVELOPE, "size": 10,
             "digest": "sha256:00", "annotations": {"predicateType": "https://slsa.dev/provenance/v1",
             "dev.cosignproject.cosign/signature": ""}, "urls": ["https://u"]}
        ],
        "annotations": {"org.example": "kept"},
        "subject": {"mediaType": layout::OCI_MANIFEST, "size": 1, "digest": "sha256:aa"}
    })
}

fn index() -> serde_json::Value {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": layout::OCI_MANIFEST, "size": 500, "digest": "sha256:aa",
                       "platform": {"architecture": "amd64", "os": "linux"}}]
    })
}

fn docker_config() -> serde_json::Value {
    json!({"auths": {
        "https://index.docker.io/v1/": {"auth": "dTE6cDE="},
        "reg.example:5000": {"username": "u", "password": "p"},
        "reg.example:5000/team/app": {"auth": "dTM6cDM=", "identitytoken": "refresh"}
    }, "credHelpers": {"gcr.io": "gcloud"}})
}

proptest! {
    #![proptest_config(support::cases(256))]

    /// What a tag holds is a cosign image manifest or refused; appending to a parsed one
    /// builds a manifest that parses again.
    #[test]
    fn manifests_parse_or_fail(
        body in prop_oneof![
            3 => near_json(manifest(), &[]),
            1 => near_json(index(), &[]),
            1 => support::any_bytes(),
        ],
        media_type in any_string(),
    ) {
        if let Ok(m) = layout::parse("sha256-00.sig", &body, &media_type) {
            let layer = Layer::signature(b"payload".to_vec(), "c2ln");
            let _ = layout::contains(&m, &layer);
            if let Ok(Some(update)) = layout::append("sha256-00.sig", Some(&m), &[layer]) {
                prop_assert!(layout::parse("t", &update.manifest, &update.media_type).is_ok());
            }
        }
    }

    /// A `WWW-Authenticate` header is a challenge or not understood.
    #[test]
    fn challenges_parse_or_fail(
        header in prop_oneof![
            3 => near_str(&[
                "Bearer realm=\"https://auth.example/token\",service=\"reg\",scope=\"repository:a/b:pull,push\"",
                "Basic realm=\"registry\"",
                "bearer realm=https://a/t, service=x",
                "Bearer realm=\"a\\\"b\",scope=\"é\"",
            ]),
            1 => any_string(),
        ]
    ) {
        let _ = auth::parse_challenge(&header);
    }

    /// A token response is a token, no token, or not JSON of the right shape.
    #[test]
    fn token_responses_parse_or_fail(
        body in prop_oneof![
            3 => near_json(json!({"token": "t", "access_token": "a", "expires_in": 300}), &[]),
            1 => support::any_bytes(),
        ]
    ) {
        if let Ok(t) = serde_json::from_slice::<TokenResponse>(&body) {
            let _ = t.into_token();
        }
    }

    /// A Docker config file is a keychain or an error naming the file; lookups in a loaded
    /// one answer.
    #[test]
    fn docker_configs_load_or_fail(
        body in prop_oneof![3 => near_json(docker_config(), &[]), 1 => support::any_bytes()],
        secret_form in any::<bool>(),
        registry in prop_oneof![
            near_str(&["index.docker.io", "reg.example:5000", "gcr.io"]),
            any_string(),
        ],
        repository in near_str(&["team/app", "library/busybox"]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let name = if secret_form { ".dockerconfigjson" } else { "config.json" };
        std::fs::write(dir.path().join(name), &body).unwrap();
        if let Ok(k) = Keychain::load(Some(dir.path()))
            && let Some(c) = k.lookup(&registry, &repository)
        {
            let _ = c.basic();
        }
    }
}
