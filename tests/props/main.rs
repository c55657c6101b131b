//! No panic on any input: property tests that feed arbitrary bytes and near-misses of the real
//! shapes to every parser of untrusted input, and then the stages that read what the parsers
//! return (type hinting, every payload format). Each outcome must be a value or an error.
//!
//! A bounded run by default (part of `scripts/test`); `PROPTEST_CASES=20000 cargo test
//! --release --test props` runs longer (see README). A failing case is saved under
//! `proptest-regressions/` and replayed first on the next run.

mod api;
mod archivista;
mod aws;
mod cli;
mod config;
mod docdb;
mod evidence;
mod fulcio;
mod google;
mod grafeas;
mod hashivault;
mod images;
mod kafka;
mod keys;
mod kms_cloud;
mod net_time;
mod referrers;
mod registry;
mod rekor_v1;
mod rekor_v2;
mod results;
mod support;
mod transparency;
mod verify;
mod workspace;

use chainlet::collect::{PipelineRecord, RunRecord};
use chainlet::formats::{self, Format};
use chainlet::subjects::{self, Strictness};

const FORMATS: [Format; 4] = [
    Format::SlsaV1,
    Format::SlsaV2Alpha3,
    Format::SlsaV2Alpha4,
    Format::Tekton,
];
const STRICTNESS: [Strictness; 2] = [Strictness::Strict, Strictness::Lenient];
const BUILD_TYPES: [&str; 2] = [
    "https://tekton.dev/chains/v2/slsa",
    "https://tekton.dev/chains/v2/slsa-tekton",
];

fn options(build_type: &str, deep_inspection: bool) -> formats::Options {
    formats::Options {
        builder_id: "https://tekton.dev/chains/v2".into(),
        build_type: build_type.into(),
        deep_inspection,
    }
}

/// Whether a payload is JSON. A payload nests the TaskRun's spec a few levels deeper than the
/// API had it, so a spec just within serde_json's recursion limit on input can be past it in
/// the payload: that is still JSON (Go's decoder, cosign's, reads 10000 levels).
fn is_json(bytes: &[u8]) -> bool {
    match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        Ok(_) => true,
        Err(e) => e.to_string().starts_with("recursion limit exceeded"),
    }
}

/// Type hinting and every TaskRun format over a run, as `chainlet attest` would: a payload is
/// JSON (an in-toto Statement, or for `tekton` the TaskRun status).
fn attest_all(run: &RunRecord) {
    for format in FORMATS {
        for strictness in STRICTNESS {
            let Ok(artifacts) = subjects::subjects(run, format.view(), strictness) else {
                continue;
            };
            for image in &artifacts.images {
                let payload = formats::simplesigning::payload(image);
                assert!(is_json(&payload));
            }
            for build_type in BUILD_TYPES {
                if let Ok(p) =
                    formats::payload(format, &options(build_type, false), run, &artifacts)
                {
                    assert!(is_json(&p), "{format:?} payload is not JSON");
                }
            }
        }
    }
}

/// Every PipelineRun format over a PipelineRun record, with and without deep inspection.
fn attest_pipeline_all(pr: &PipelineRecord) {
    for format in FORMATS {
        for strictness in STRICTNESS {
            for deep in [false, true] {
                // Type hinting as the run does it, then the payload over what it found.
                let Ok(hints) =
                    chainlet::subjects::pipelinerun(pr, format.view(), deep, strictness)
                else {
                    continue;
                };
                for build_type in BUILD_TYPES {
                    if let Ok((p, _)) =
                        formats::pipelinerun_payload(format, &options(build_type, deep), pr, &hints)
                    {
                        assert!(is_json(&p), "{format:?} payload is not JSON");
                    }
                }
            }
        }
    }
}
