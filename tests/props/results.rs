//! Result files and step-result files (`collect::read_results`, `collect::read_step_results`)
//! written into a temporary folder, and type hinting with every format over what they give, or
//! over a run built straight from arbitrary results.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use proptest::prelude::*;
use serde_json::json;

use chainlet::collect::{self, ResultValue, RunContext, RunRecord, StepResults, TaskResult};

use crate::support::{self, any_string, near_json, near_str};

const D: &str = "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4";

const HINTS: &[&str] = &[
    "IMAGE_URL",
    "IMAGE_DIGEST",
    "IMAGES",
    "ARTIFACT_URI",
    "ARTIFACT_DIGEST",
    "ARTIFACT_OUTPUTS",
    "ARTIFACT_INPUTS",
    "CHAINS-GIT_URL",
    "CHAINS-GIT_COMMIT",
];

/// Real hinted values: image references, digests, lists of images, git URLs and commits.
const VALUES: &[&str] = &[
    "gcr.io/foo/bar",
    "gcr.io/foo/bar:v1",
    "localhost:5000/a/b",
    "[::1]:5000/ab",
    "busybox",
    "sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4",
    "sha1:0123456789012345678901234567890123456789",
    "gcr.io/a/b@sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4",
    "img1@sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4,\nimg2:v@sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4\n",
    "https://github.com/tektoncd/chains",
    "pkg:maven/a/b@1",
    "",
    " \n",
];

/// A result name: a hint, a hint with a prefix, or anything.
pub fn result_name() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(HINTS).prop_map(str::to_owned),
        2 => ("[a-z0-9é-]{0,6}", prop::sample::select(HINTS)).prop_map(|(p, h)| format!("{p}{h}")),
        1 => any_string(),
    ]
}

/// An `*ARTIFACT_OUTPUTS` / `*ARTIFACT_INPUTS` object result as Tekton writes it.
fn artifact_object() -> serde_json::Value {
    json!({"uri": "gcr.io/foo/bar", "digest": format!("sha256:{D}"), "isBuildArtifact": "true"})
}

/// A result's text: a hinted value or a near-miss of one, a near-miss of an object or array
/// result, or anything.
pub fn result_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => near_str(VALUES).prop_map(String::into_bytes),
        3 => near_json(artifact_object(), &[]),
        1 => near_json(json!(["a", "b"]), &[]),
        1 => support::any_bytes(),
    ]
}

/// A result value, as the API or the files give it.
pub fn result_value() -> impl Strategy<Value = ResultValue> {
    let object = prop::collection::btree_map(
        prop_oneof![
            3 => prop::sample::select(&["uri", "digest", "isBuildArtifact"][..]).prop_map(str::to_owned),
            1 => any_string(),
        ],
        prop_oneof![near_str(VALUES), near_str(&["true", "false"]), any_string()],
        0..4,
    );
    prop_oneof![
        3 => near_str(VALUES).prop_map(ResultValue::String),
        1 => prop::collection::vec(near_str(VALUES), 0..3).prop_map(ResultValue::Array),
        3 => object.prop_map(ResultValue::Object),
    ]
}

pub fn task_results() -> impl Strategy<Value = Vec<TaskResult>> {
    prop::collection::vec(
        (result_name(), result_value()).prop_map(|(name, value)| TaskResult { name, value }),
        0..8,
    )
}

fn run_record(
    results: Vec<TaskResult>,
    step_results: Vec<StepResults>,
    params: Vec<(String, String)>,
) -> RunRecord {
    RunRecord {
        context: RunContext {
            taskrun_name: "build".into(),
            taskrun_uid: "0f1e2d3c-aaaa-bbbb-cccc-123456789abc".into(),
            ..RunContext::default()
        },
        results,
        step_results,
        params,
        started_on: None,
        finished_on: Some(std::time::UNIX_EPOCH),
        api: None,
        workspace: Vec::new(),
    }
}

/// What sits in a results folder under one name.
#[derive(Debug, Clone)]
enum Entry {
    File(Vec<u8>),
    Dir,
    /// A symlink to another entry of the folder (which may not exist).
    LinkInside(String),
    /// A symlink out of the folder.
    LinkOutside,
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        8 => result_text().prop_map(Entry::File),
        1 => Just(Entry::Dir),
        1 => result_name().prop_map(Entry::LinkInside),
        1 => Just(Entry::LinkOutside),
    ]
}

/// A name a file can have: no `/`, no NUL, not `.` or `..`, at most 255 bytes.
fn file_name(name: &str) -> Option<&str> {
    (!name.is_empty()
        && name.len() <= 255
        && !name.contains(['/', '\0'])
        && name != "."
        && name != "..")
        .then_some(name)
}

/// Writes entries into `dir`; names that cannot be file names are skipped.
fn write_entries(dir: &Path, entries: &BTreeMap<String, Entry>, outside: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, entry) in entries {
        let Some(name) = file_name(name) else {
            continue;
        };
        let path = dir.join(name);
        match entry {
            Entry::File(bytes) => std::fs::write(&path, bytes).unwrap(),
            Entry::Dir => std::fs::create_dir(&path).unwrap(),
            Entry::LinkInside(target) => match file_name(target) {
                Some(t) => std::os::unix::fs::symlink(t, &path).unwrap(),
                None => continue,
            },
            Entry::LinkOutside => std::os::unix::fs::symlink(outside, &path).unwrap(),
        }
    }
}

fn results_dir() -> impl Strategy<Value = (BTreeMap<String, Entry>, Option<Vec<u8>>)> {
    (
        prop::collection::btree_map(result_name(), entry(), 0..8),
        // A name that is not UTF-8, now and then.
        prop::option::weighted(0.1, prop::collection::vec(128u8..=255, 1..4)),
    )
}

/// A steps folder as Tekton lays it out (`steps/step-<name>` and `steps/<index>` linking to
/// `run/<index>/status`), with some links and folders wrong.
#[derive(Debug, Clone)]
struct Step {
    name: String,
    /// The index link's name: usually the index, sometimes any text or a number too large.
    index: String,
    results: Option<BTreeMap<String, Entry>>,
    /// `results` as a symlink to the run folder instead of a folder.
    results_link: bool,
    /// `step-<name>` linking out of the steps and run folders.
    escapes: bool,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = (
        prop_oneof![3 => "[a-z][a-z0-9-]{0,8}", 1 => any_string()],
        prop_oneof![
            4 => Just(None),
            1 => prop_oneof![
                Just("18446744073709551616".to_owned()),
                Just("-1".to_owned()),
                Just("00".to_owned()),
                any_string(),
            ]
            .prop_map(Some),
        ],
        prop::option::weighted(
            0.9,
            prop::collection::btree_map(result_name(), entry(), 0..5),
        ),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.05),
    );
    prop::collection::vec(step, 0..4).prop_map(|list| {
        list.into_iter()
            .enumerate()
            .map(|(i, (name, index, results, results_link, escapes))| Step {
                name,
                index: index.unwrap_or_else(|| i.to_string()),
                results,
                results_link,
                escapes,
            })
            .collect()
    })
}

fn write_steps(root: &Path, steps: &[Step]) {
    let steps_dir = root.join("steps");
    let outside = root.join("outside");
    std::fs::create_dir_all(&steps_dir).unwrap();
    std::fs::create_dir_all(outside.join("results")).unwrap();
    std::fs::write(outside.join("results/IMAGE_URL"), "gcr.io/x/y").unwrap();
    for (i, step) in steps.iter().enumerate() {
        let Some(name) = file_name(&step.name).filter(|n| n.len() < 250) else {
            continue;
        };
        let status = root.join(format!("run/{i}/status"));
        std::fs::create_dir_all(&status).unwrap();
        if step.results_link {
            std::os::unix::fs::symlink(root.join("run"), status.join("results")).unwrap();
        } else if let Some(entries) = &step.results {
            write_entries(&status.join("results"), entries, &outside);
        }
        let target = if step.escapes {
            outside.clone()
        } else {
            Path::new("..").join(format!("run/{i}/status"))
        };
        let link = steps_dir.join(format!("step-{name}"));
        if !link.exists() && std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(&target, &link).unwrap();
        }
        if let Some(index) = file_name(&step.index) {
            let link = steps_dir.join(index);
            if std::fs::symlink_metadata(&link).is_err() {
                std::os::unix::fs::symlink(&target, &link).unwrap();
            }
        }
    }
}

proptest! {
    #![proptest_config(support::cases(96))]

    /// A results folder of arbitrary names and contents reads as results or fails with an
    /// error; type hinting and every format then run over what it read.
    #[test]
    fn results_dir_reads_or_fails((entries, raw_name) in results_dir()) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("results");
        write_entries(&dir, &entries, Path::new("/etc/hostname"));
        if let Some(raw) = raw_name {
            std::fs::write(dir.join(std::ffi::OsStr::from_bytes(&raw)), "x").unwrap();
        }
        if let Ok(results) = collect::read_results(&dir, &[], &mut collect::Budget::default()) {
            crate::attest_all(&run_record(results, Vec::new(), Vec::new()));
        }
    }

    /// A steps folder with arbitrary steps, links and results reads as step results or fails
    /// with an error; slsa/v2alpha4 then reads them.
    #[test]
    fn steps_dir_reads_or_fails(steps in steps(), task in task_results()) {
        let tmp = tempfile::tempdir().unwrap();
        write_steps(tmp.path(), &steps);
        let got = collect::read_step_results(
            &tmp.path().join("steps"),
            &[],
            &mut collect::Budget::default(),
        );
        if let Ok(step_results) = got {
            crate::attest_all(&run_record(task, step_results, Vec::new()));
        }
    }

    /// Type hinting (both views, both strictnesses) and every format over arbitrary task and
    /// step results and `CHAINS-GIT_*` params.
    #[test]
    fn hints_and_formats_over_any_results(
        task in task_results(),
        steps in prop::collection::vec(("[a-z]{1,4}", task_results()), 0..3),
        params in prop::collection::vec(
            (prop_oneof![
                Just("CHAINS-GIT_URL".to_owned()),
                Just("CHAINS-GIT_COMMIT".to_owned()),
                any_string(),
            ], near_str(VALUES)),
            0..3,
        ),
    ) {
        let steps = steps
            .into_iter()
            .map(|(step, results)| StepResults { step, results })
            .collect();
        crate::attest_all(&run_record(task, steps, params));
    }
}
