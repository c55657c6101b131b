//! Collect: read what the pod knows about its run into a [`RunRecord`].
//!
//! Inputs are the results directory (`/tekton/results/<name>`), StepAction step results
//! (`/tekton/steps/step-<name>/results/<name>`), and the run context passed through flags or
//! Tekton's `$(context.*)` variables. Results are untrusted: each is capped in size, must be
//! UTF-8, must not be a symlink that leaves its directory, and a malformed one is reported by
//! name.

pub mod access;
pub mod api;
pub mod pipelinerun;
pub mod taskrun;
pub mod workspace;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Tekton itself caps a result at 4 KiB (more with results from sidecar logs); chainlet accepts
/// up to 1 MiB and refuses larger files rather than reading unbounded input.
pub const MAX_RESULT_BYTES: u64 = 1024 * 1024;

/// A result's value: Tekton results are strings, arrays of strings or objects of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultValue {
    String(String),
    Array(Vec<String>),
    Object(BTreeMap<String, String>),
}

impl ResultValue {
    /// The string value, or `None` for arrays and objects (string-based type hints ignore them,
    /// as in Chains).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ResultValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as the JSON Tekton would show in the TaskRun status.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ResultValue::String(s) => serde_json::Value::String(s.clone()),
            ResultValue::Array(a) => a.iter().cloned().map(serde_json::Value::String).collect(),
            ResultValue::Object(o) => o
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
}

/// One named result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResult {
    pub name: String,
    pub value: ResultValue,
}

/// The results of one StepAction step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResults {
    /// The step's name, without Tekton's `step-` directory prefix.
    pub step: String,
    pub results: Vec<TaskResult>,
}

/// Who ran: the names Tekton gives through `$(context.*)` variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunContext {
    pub taskrun_name: String,
    pub taskrun_uid: String,
    pub namespace: String,
    pub task_name: String,
    pub pipelinerun_name: String,
    pub pipelinerun_uid: String,
}

/// Everything the later stages may use about the run. Plain data; no handles.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub context: RunContext,
    /// Task results, sorted by name (a directory has no order; sorting keeps output stable).
    pub results: Vec<TaskResult>,
    /// Step results in step order, results sorted by name within a step.
    pub step_results: Vec<StepResults>,
    /// Parameters passed with `--param` (the pod cannot see the TaskRun's params otherwise).
    pub params: Vec<(String, String)>,
    pub started_on: Option<SystemTime>,
    pub finished_on: Option<SystemTime>,
    /// The TaskRun from the Kubernetes API, when chainlet could read it.
    pub api: Option<api::ApiTaskRun>,
    /// Images and files found in the workspace itself (`--oci-layout`, `--digest-file`,
    /// `--hash`), sorted: images, then files, each by name.
    pub workspace: Vec<workspace::WorkspaceSubject>,
}

impl RunRecord {
    /// A child TaskRun of a PipelineRun, as the formats read a TaskRun.
    pub fn from_api(api: &api::ApiTaskRun) -> Self {
        let params = api
            .param_defaults
            .iter()
            .chain(api.params.iter())
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect();
        RunRecord {
            context: RunContext {
                taskrun_name: api.name.clone(),
                taskrun_uid: api.uid.clone(),
                ..RunContext::default()
            },
            results: api.results.clone(),
            step_results: api.step_results.clone(),
            params,
            started_on: api.start_time,
            finished_on: api.completion_time,
            api: Some(api.clone()),
            workspace: Vec::new(),
        }
    }
}

/// A PipelineRun to attest, from a `finally` Task.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineRecord {
    pub name: String,
    pub uid: String,
    /// The PipelineRun from the Kubernetes API, when chainlet could read it.
    pub api: Option<api::ApiPipelineRun>,
    /// The PipelineRun's results: from its status, else computed from its finished children
    /// as the Pipeline declares them, plus those passed with `--pipeline-result`.
    pub results: Vec<TaskResult>,
    /// Finished child TaskRuns, in the Pipeline's task order (`tasks`, then `finally`).
    pub children: Vec<api::ApiTaskRun>,
    /// `CHAINS-GIT_*` sources: the Pipeline's param defaults, the PipelineRun's params, then
    /// `--param`.
    pub params: Vec<(String, String)>,
    pub started_on: Option<SystemTime>,
    pub finished_on: Option<SystemTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("{path}: cannot read the results directory: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("result {name:?} ({path}): {problem}")]
    Result {
        name: String,
        path: PathBuf,
        problem: String,
    },
    #[error("{path}: {problem}")]
    Layout { path: PathBuf, problem: String },
    #[error("--taskrun-uid is required (or CHAINLET_TASKRUN_UID, from $(context.taskRun.uid))")]
    MissingUid,
    #[error("--taskrun-uid {0:?}: must be a Kubernetes UID (letters, digits and '-')")]
    BadUid(String),
    #[error("--taskrun-name is required (or CHAINLET_TASKRUN_NAME, from $(context.taskRun.name))")]
    MissingName,
}

/// All results together may not exceed this many bytes or files, so a hostile step cannot make
/// chainlet read without bound.
pub const MAX_TOTAL_BYTES: u64 = 16 * 1024 * 1024;
pub const MAX_RESULTS: usize = 1000;

/// What is left of the total result budget.
#[derive(Debug)]
pub struct Budget {
    bytes: u64,
    files: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            bytes: MAX_TOTAL_BYTES,
            files: MAX_RESULTS,
        }
    }
}

/// Directories whose content must never become a result, however the results are linked:
/// the signing secrets and other inputs mounted only for chainlet.
pub type Forbidden<'a> = &'a [&'a Path];

/// Reads a results directory. Regular files become results; hidden entries and directories are
/// skipped. Every result must resolve inside the directory and be a regular file (not a FIFO or
/// device); it is read through the open handle with a size limit.
pub fn read_results(
    dir: &Path,
    forbidden: Forbidden<'_>,
    budget: &mut Budget,
) -> Result<Vec<TaskResult>, CollectError> {
    let dir_err = |source| CollectError::Dir {
        path: dir.to_owned(),
        source,
    };
    let root = std::fs::canonicalize(dir).map_err(dir_err)?;
    refuse_forbidden(&root, forbidden)?;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&root).map_err(dir_err)? {
        let entry = entry.map_err(dir_err)?;
        let name = match entry.file_name().into_string() {
            Ok(n) => n,
            Err(raw) => {
                return Err(CollectError::Result {
                    name: raw.to_string_lossy().into_owned(),
                    path: entry.path(),
                    problem: "result name is not UTF-8".into(),
                });
            }
        };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let bad = |problem: String| CollectError::Result {
            name: name.clone(),
            path: path.clone(),
            problem,
        };
        let target = std::fs::canonicalize(&path).map_err(|e| bad(e.to_string()))?;
        if !target.starts_with(&root) {
            return Err(bad(format!(
                "is a symlink to {}, outside the results directory",
                target.display()
            )));
        }
        if std::fs::metadata(&target)
            .map_err(|e| bad(e.to_string()))?
            .is_dir()
        {
            continue;
        }
        if budget.files == 0 {
            return Err(bad(format!("more than {MAX_RESULTS} results")));
        }
        budget.files -= 1;
        let text = read_limited(&target, budget).map_err(bad)?;
        out.push(TaskResult {
            name,
            value: parse_value(text),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Reads one result: a regular file, within the per-result limit and the remaining budget.
fn read_limited(path: &Path, budget: &mut Budget) -> Result<String, String> {
    let limit = MAX_RESULT_BYTES.min(budget.bytes);
    let bytes = crate::fsread::read_limited(path, limit).map_err(|e| match e {
        crate::fsread::ReadError::TooLarge(_) if limit < MAX_RESULT_BYTES => {
            format!("all results together are over the {MAX_TOTAL_BYTES} byte limit")
        }
        crate::fsread::ReadError::TooLarge(_) => {
            format!("over the {MAX_RESULT_BYTES} byte limit")
        }
        other => other.to_string(),
    })?;
    budget.bytes -= bytes.len() as u64;
    String::from_utf8(bytes).map_err(|_| "value is not UTF-8".into())
}

fn refuse_forbidden(path: &Path, forbidden: Forbidden<'_>) -> Result<(), CollectError> {
    for f in forbidden {
        if let Ok(f) = std::fs::canonicalize(f)
            && (path.starts_with(&f) || f.starts_with(path))
        {
            return Err(CollectError::Layout {
                path: path.to_owned(),
                problem: format!(
                    "results would be read from {}, which holds chainlet's own inputs",
                    f.display()
                ),
            });
        }
    }
    Ok(())
}

/// Tekton writes array and object results as JSON. A value is taken as an array or object
/// when it is a JSON array of strings or a JSON object of strings; anything else is a string.
fn parse_value(text: String) -> ResultValue {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        match serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&text) {
            Ok(map) => {
                let mut obj = BTreeMap::new();
                for (k, v) in map {
                    match v {
                        serde_json::Value::String(s) => {
                            obj.insert(k, s);
                        }
                        _ => return ResultValue::String(text),
                    }
                }
                return ResultValue::Object(obj);
            }
            // Type hinting reports (or, leniently, drops) a malformed hinted object by name.
            Err(_) => return ResultValue::String(text),
        }
    }
    if trimmed.starts_with('[')
        && let Ok(items) = serde_json::from_str::<Vec<String>>(&text)
    {
        return ResultValue::Array(items);
    }
    ResultValue::String(text)
}

/// Reads StepAction step results.
///
/// Tekton's layout: `/tekton/steps/step-<name>` and `/tekton/steps/<index>` are both links to
/// `/tekton/run/<index>/status`, and a step writes its results to
/// `/tekton/steps/step-<name>/results/<result>`. The index links give the steps' order (Chains
/// walks `status.steps` in order); steps without one sort after, by name.
///
/// `/tekton/steps` is writable by every step, so a step could point `step-x` or its `results`
/// anywhere. A step directory must resolve inside the steps directory or its sibling `run`
/// directory, its `results` must be a real directory, and neither may lead into `forbidden`.
pub fn read_step_results(
    steps_dir: &Path,
    forbidden: Forbidden<'_>,
    budget: &mut Budget,
) -> Result<Vec<StepResults>, CollectError> {
    let io_err = |source| CollectError::Dir {
        path: steps_dir.to_owned(),
        source,
    };
    let steps_root = match std::fs::canonicalize(steps_dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(e)),
    };
    let mut roots = vec![steps_root.clone()];
    if let Some(run) = steps_root.parent().map(|p| p.join("run"))
        && let Ok(run) = std::fs::canonicalize(run)
    {
        roots.push(run);
    }
    let mut index_of: BTreeMap<PathBuf, usize> = BTreeMap::new();
    let mut steps: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&steps_root).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(target) = std::fs::canonicalize(entry.path()) else {
            continue;
        };
        if let Ok(index) = name.parse::<usize>() {
            index_of.insert(target, index);
        } else if let Some(step) = name.strip_prefix("step-") {
            steps.push((step.to_owned(), target));
        }
    }
    let mut out = Vec::new();
    for (step, target) in steps {
        let layout = |problem: String| CollectError::Layout {
            path: steps_dir.join(format!("step-{step}")),
            problem,
        };
        if !roots.iter().any(|r| target.starts_with(r)) {
            return Err(layout(format!(
                "leads to {}, outside Tekton's steps and run directories",
                target.display()
            )));
        }
        let results_dir = target.join("results");
        match std::fs::symlink_metadata(&results_dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(layout(
                    "results is a symlink; step results must be a real directory".into(),
                ));
            }
            Ok(m) if m.is_dir() => {}
            _ => continue,
        }
        let results = read_results(&results_dir, forbidden, budget)?;
        if !results.is_empty() {
            out.push((index_of.get(&target).copied(), step, results));
        }
    }
    out.sort_by(|a, b| (a.0.unwrap_or(usize::MAX), &a.1).cmp(&(b.0.unwrap_or(usize::MAX), &b.1)));
    Ok(out
        .into_iter()
        .map(|(_, step, results)| StepResults { step, results })
        .collect())
}

/// Checks the TaskRun UID: it names files and annotation keys, so it must be non-empty and
/// made of the characters Kubernetes UIDs use.
pub fn check_uid(uid: &str) -> Result<(), CollectError> {
    if uid.is_empty() {
        return Err(CollectError::MissingUid);
    }
    if uid.len() > 128 || !uid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(CollectError::BadUid(uid.to_owned()));
    }
    Ok(())
}

/// Checks the TaskRun name: Chains always has one, and slsa/v2alpha4 writes it into byproduct
/// names.
pub fn check_name(name: &str) -> Result<(), CollectError> {
    if name.is_empty() {
        return Err(CollectError::MissingName);
    }
    Ok(())
}

/// When the run started, as well as the pod can tell: the birth time of the results directory,
/// which Tekton creates as the pod starts. `None` when the filesystem does not record it.
pub fn results_dir_birth(dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(dir).ok()?.created().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("chainlet-collect-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn read(d: &Path) -> Result<Vec<TaskResult>, CollectError> {
        read_results(d, &[], &mut Budget::default())
    }

    #[test]
    fn reads_string_array_and_object_results_sorted() {
        let d = tmp("kinds");
        std::fs::write(d.join("b"), "hello\n").unwrap();
        std::fs::write(d.join("a"), r#"["x","y"]"#).unwrap();
        std::fs::write(
            d.join("c-ARTIFACT_OUTPUTS"),
            r#"{"uri":"u","digest":"sha256:00"}"#,
        )
        .unwrap();
        let r = read(&d).unwrap();
        assert_eq!(r[0].name, "a");
        assert_eq!(r[0].value, ResultValue::Array(vec!["x".into(), "y".into()]));
        assert_eq!(r[1].value, ResultValue::String("hello\n".into()));
        assert!(matches!(r[2].value, ResultValue::Object(_)));
    }

    #[test]
    fn oversized_result_is_refused() {
        let d = tmp("big");
        std::fs::write(d.join("IMAGES"), vec![b'a'; MAX_RESULT_BYTES as usize + 1]).unwrap();
        let e = read(&d).unwrap_err().to_string();
        assert!(e.contains("IMAGES") && e.contains("limit"), "{e}");
    }

    #[test]
    fn symlink_leaving_the_directory_is_refused() {
        let d = tmp("link");
        std::os::unix::fs::symlink("/etc/hostname", d.join("IMAGE_URL")).unwrap();
        let e = read(&d).unwrap_err().to_string();
        assert!(e.contains("IMAGE_URL") && e.contains("outside"), "{e}");
    }

    #[test]
    fn non_utf8_result_is_refused() {
        let d = tmp("utf8");
        std::fs::write(d.join("IMAGE_URL"), [0xff, 0xfe]).unwrap();
        assert!(read(&d).is_err());
    }

    #[test]
    fn fifo_is_refused_not_waited_on() {
        let d = tmp("fifo");
        let st = std::process::Command::new("mkfifo")
            .arg(d.join("IMAGE_URL"))
            .status()
            .unwrap();
        assert!(st.success());
        let e = read(&d).unwrap_err().to_string();
        assert!(e.contains("IMAGE_URL") && e.contains("regular file"), "{e}");
    }

    #[test]
    fn total_budget_is_enforced() {
        let d = tmp("budget");
        std::fs::write(d.join("a"), vec![b'a'; 600]).unwrap();
        std::fs::write(d.join("b"), vec![b'b'; 600]).unwrap();
        let mut budget = Budget {
            bytes: 1000,
            files: 10,
        };
        let e = read_results(&d, &[], &mut budget).unwrap_err().to_string();
        assert!(e.contains("all results together"), "{e}");
    }

    /// Tekton's layout: steps/step-<name> and steps/<i> both link to run/<i>/status.
    fn tekton_steps(root: &Path, steps: &[&str]) {
        for (i, name) in steps.iter().enumerate() {
            let status = root.join(format!("run/{i}/status/results"));
            std::fs::create_dir_all(&status).unwrap();
            std::fs::write(status.join("r"), *name).unwrap();
            std::fs::create_dir_all(root.join("steps")).unwrap();
            let target = format!("../run/{i}/status");
            std::os::unix::fs::symlink(&target, root.join(format!("steps/step-{name}"))).unwrap();
            std::os::unix::fs::symlink(&target, root.join(format!("steps/{i}"))).unwrap();
        }
    }

    #[test]
    fn steps_come_in_tekton_index_order() {
        let d = tmp("order");
        tekton_steps(&d, &["zeta", "alpha"]);
        let steps = read_step_results(&d.join("steps"), &[], &mut Budget::default()).unwrap();
        let names: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
    }

    #[test]
    fn step_results_linked_to_the_secrets_are_refused() {
        let d = tmp("evil");
        tekton_steps(&d, &["ok"]);
        let secrets = d.join("secrets");
        std::fs::create_dir_all(&secrets).unwrap();
        std::fs::write(secrets.join("cosign.password"), "pw").unwrap();
        // A step that links its own results directory to the secrets...
        std::fs::create_dir_all(d.join("run/5/status")).unwrap();
        std::os::unix::fs::symlink(&secrets, d.join("run/5/status/results")).unwrap();
        std::os::unix::fs::symlink("../run/5/status", d.join("steps/step-evil")).unwrap();
        let e = read_step_results(&d.join("steps"), &[&secrets], &mut Budget::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("symlink"), "{e}");
        // ...or its step directory straight at them.
        std::fs::remove_file(d.join("steps/step-evil")).unwrap();
        std::fs::create_dir_all(d.join("elsewhere/results")).unwrap();
        std::os::unix::fs::symlink(d.join("elsewhere"), d.join("steps/step-evil")).unwrap();
        let e = read_step_results(&d.join("steps"), &[&secrets], &mut Budget::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside"), "{e}");
    }

    #[test]
    fn results_dir_inside_the_secrets_is_refused() {
        let d = tmp("forbidden");
        let e = read_results(&d, &[&d], &mut Budget::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("chainlet's own inputs"), "{e}");
    }

    #[test]
    fn uid_must_look_like_a_uid() {
        assert!(check_uid("0f1e2d3c-aaaa-bbbb-cccc-123456789abc").is_ok());
        assert!(check_uid("").is_err());
        assert!(check_uid("../etc").is_err());
    }
}
