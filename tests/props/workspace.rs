//! Workspace subjects' parsers: an OCI layout's `index.json`, builders' digest files, and the
//! globs of `--hash`. Near-misses of real files and arbitrary input give a value or an error;
//! what parses is well-formed; the glob matcher agrees with a plain recursive definition.

use proptest::prelude::*;
use serde_json::json;

use chainlet::collect::workspace::{Kind, WorkspaceSubject, digest_file, glob, layout};
use chainlet::collect::{ResultValue, RunContext, RunRecord, TaskResult};

use crate::support::{self, any_bytes, any_string, near_json, near_str};

const D: &str = "sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4";

fn index() -> serde_json::Value {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": D, "size": 528,
             "annotations": {"org.opencontainers.image.ref.name": "registry.example/team/app:v1"}},
            {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": D, "size": 1,
             "annotations": {"org.opencontainers.image.ref.name": "latest"}},
        ]
    })
}

const DIGEST_FILES: &[&str] = &[
    "sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4\n",
    "reg.io/a:v1@sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4\n",
    "reg.io/a@sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4\nlocalhost:5000/b@sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4\n",
    r#"{"containerimage.digest":"sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4","image.name":"reg.io/a:v1,reg.io/b"}"#,
    r#"{"t":{"containerimage.digest":"sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4"}}"#,
];

fn is_image_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// The glob rules written as plainly as possible (exponential, for short inputs only).
fn naive_component(p: &[char], n: &[char]) -> bool {
    match (p.first(), n.first()) {
        (None, None) => true,
        (Some('*'), _) => {
            naive_component(&p[1..], n) || (!n.is_empty() && naive_component(p, &n[1..]))
        }
        (Some('?'), Some(_)) => naive_component(&p[1..], &n[1..]),
        (Some(a), Some(b)) if a == b => naive_component(&p[1..], &n[1..]),
        _ => false,
    }
}

fn naive_one(p: &str, name: &str) -> bool {
    if p == "**" {
        return !name.starts_with('.');
    }
    if name.starts_with('.') && !p.starts_with('.') {
        return false;
    }
    let p: Vec<char> = p.chars().collect();
    let n: Vec<char> = name.chars().collect();
    naive_component(&p, &n)
}

fn naive_path(p: &[&str], n: &[&str]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some(&"**") => {
            naive_path(&p[1..], n)
                || (!n.is_empty() && naive_one("**", n[0]) && naive_path(p, &n[1..]))
        }
        Some(c) => !n.is_empty() && naive_one(c, n[0]) && naive_path(&p[1..], &n[1..]),
    }
}

fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[ab.]{1,3}",
        2 => "[ab.*?]{1,4}",
        1 => Just("**".to_owned()),
    ]
}

proptest! {
    #![proptest_config(support::cases(512))]

    #[test]
    fn oci_indexes_parse_or_fail(
        bytes in prop_oneof![4 => near_json(index(), &[]), 1 => any_bytes()],
        repo in prop_oneof![Just(None), near_str(&["registry.example/team/app", "localhost:5000/x"]).prop_map(Some)],
    ) {
        if let Ok(entries) = layout::parse_index(&bytes) {
            prop_assert!(entries.len() <= layout::MAX_ENTRIES);
            for e in &entries {
                prop_assert!(is_image_digest(&e.digest), "{}", e.digest);
                if let Ok(r) = layout::reference(e, repo.as_deref()) {
                    prop_assert!(r.ends_with(&format!("@{}", e.digest)), "{r}");
                    let _ = chainlet::subjects::ImageRef::parse(&r);
                }
            }
        }
    }

    #[test]
    fn digest_files_parse_or_fail(
        text in prop_oneof![4 => near_str(DIGEST_FILES), 1 => any_string()],
        image in prop_oneof![Just(None), near_str(&["reg.io/app", "reg.io/app:v1"]).prop_map(Some)],
    ) {
        if let Ok((kind, refs)) = digest_file::parse(&text, image.as_deref()) {
            prop_assert!(!refs.is_empty());
            if kind == digest_file::Kind::Bare {
                prop_assert!(image.is_some());
            }
            for r in &refs {
                let (name, d) = r.rsplit_once('@').unwrap();
                prop_assert!(!name.is_empty() && is_image_digest(d), "{r}");
                let _ = chainlet::subjects::ImageRef::parse(r);
            }
        }
    }

    #[test]
    fn workspace_subjects_with_hints_give_a_payload_in_every_format(
        subjects in prop::collection::vec(
            (
                prop_oneof![Just(Kind::Image), Just(Kind::File)],
                prop_oneof![3 => near_str(&["reg.io/a", "dist/app.tgz", "pkg:generic/x"]), 1 => any_string()],
                prop_oneof![Just("sha256"), Just("sha512"), Just("SHA256")],
                near_str(&["05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4"]),
            ),
            0..6,
        ),
        hinted in prop::bool::ANY,
    ) {
        let mut run = RunRecord {
            context: RunContext {
                taskrun_name: "build".into(),
                taskrun_uid: "0f1e2d3c-aaaa-bbbb-cccc-123456789abc".into(),
                ..RunContext::default()
            },
            results: Vec::new(),
            step_results: Vec::new(),
            params: Vec::new(),
            started_on: None,
            finished_on: Some(std::time::UNIX_EPOCH),
            api: None,
            workspace: subjects
                .into_iter()
                .map(|(kind, name, alg, hex)| WorkspaceSubject { kind, name, algorithm: alg.into(), hex })
                .collect(),
        };
        if hinted {
            for (name, value) in [("IMAGE_URL", "reg.io/a"), ("IMAGE_DIGEST", D)] {
                run.results.push(TaskResult { name: name.into(), value: ResultValue::String(value.into()) });
            }
        }
        crate::attest_all(&run);
    }

    #[test]
    fn globs_parse_or_fail_and_matching_never_panics(pattern in any_string(), path in any_string()) {
        if let Ok(g) = glob::Glob::parse(&pattern) {
            let _ = g.matches(&path);
        }
        let _ = glob::component_matches(&pattern, &path);
    }

    #[test]
    fn the_matcher_agrees_with_the_plain_definition(
        pattern in prop::collection::vec(component(), 1..5),
        path in prop::collection::vec("[ab.]{1,3}", 0..5),
    ) {
        let p: Vec<&str> = pattern.iter().map(String::as_str).collect();
        let n: Vec<&str> = path.iter().map(String::as_str).collect();
        let Ok(g) = glob::Glob::parse(&p.join("/")) else {
            // Only `.`/`..` components and `**` inside a name are refused.
            prop_assert!(p.iter().any(|c| *c == "." || *c == ".." || (c.contains("**") && *c != "**")));
            return Ok(());
        };
        // The walk yields files below the base (the literal leading components), never the
        // base itself, unless the whole pattern is literal.
        let base_len = p.iter().take_while(|c| !c.contains(['*', '?'])).count();
        let want = naive_path(&p, &n) && (base_len == p.len() || n.len() > base_len);
        prop_assert_eq!(g.matches(&n.join("/")), want, "{} vs {}", p.join("/"), n.join("/"));
    }
}
