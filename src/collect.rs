//! Collect: read what the pod knows about its run into a [`RunRecord`].
//!
//! Inputs are the results directory (`/tekton/results/<name>`), StepAction step results
//! (`/tekton/steps/step-<name>/results/<name>`), and the run context passed through flags or
//! Tekton's `$(context.*)` variables. Results are untrusted: each is capped in size, must be
//! UTF-8, must not be a symlink that leaves its directory, and a malformed one is reported by
//! name.

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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    #[error("--taskrun-uid is required (or CHAINLET_TASKRUN_UID, from $(context.taskRun.uid))")]
    MissingUid,
    #[error("--taskrun-uid {0:?}: must be a Kubernetes UID (letters, digits and '-')")]
    BadUid(String),
}

/// Reads a results directory. Regular files become results; hidden files and directories are
/// skipped. A missing directory means "no results" only when `required` is false.
pub fn read_results(dir: &Path, required: bool) -> Result<Vec<TaskResult>, CollectError> {
    let dir_err = |source| CollectError::Dir {
        path: dir.to_owned(),
        source,
    };
    let root = match std::fs::canonicalize(dir) {
        Ok(r) => r,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(dir_err(e)),
    };
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
        let meta = std::fs::metadata(&target).map_err(|e| bad(e.to_string()))?;
        if meta.is_dir() {
            continue;
        }
        if meta.len() > MAX_RESULT_BYTES {
            return Err(bad(format!(
                "{} bytes is over the {} byte limit",
                meta.len(),
                MAX_RESULT_BYTES
            )));
        }
        let bytes = std::fs::read(&target).map_err(|e| bad(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| bad("value is not UTF-8".into()))?;
        let value = parse_value(text);
        out.push(TaskResult { name, value });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
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

/// Reads StepAction step results: every `step-<name>/results/` directory under `steps_dir`.
/// Tekton also links `/tekton/steps/<index>` to the same directories: those links give the
/// steps' order (Chains walks `status.steps` in order); steps without one sort after, by name.
pub fn read_step_results(steps_dir: &Path) -> Result<Vec<StepResults>, CollectError> {
    let mut order: BTreeMap<String, usize> = BTreeMap::new();
    let entries = match std::fs::read_dir(steps_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CollectError::Dir {
                path: steps_dir.to_owned(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CollectError::Dir {
            path: steps_dir.to_owned(),
            source,
        })?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if let Ok(index) = name.parse::<usize>() {
            if let Ok(target) = std::fs::read_link(entry.path())
                && let Some(dir) = target.file_name().and_then(|f| f.to_str())
                && let Some(step) = dir.strip_prefix("step-")
            {
                order.insert(step.to_owned(), index);
            }
            continue;
        }
        let Some(step) = name.strip_prefix("step-") else {
            continue;
        };
        let results_dir = entry.path().join("results");
        if !results_dir.is_dir() {
            continue;
        }
        let results = read_results(&results_dir, true)?;
        if !results.is_empty() {
            out.push(StepResults {
                step: step.to_owned(),
                results,
            });
        }
    }
    out.sort_by_key(|s| {
        (
            order.get(&s.step).copied().unwrap_or(usize::MAX),
            s.step.clone(),
        )
    });
    Ok(out)
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
        let r = read_results(&d, true).unwrap();
        assert_eq!(r[0].name, "a");
        assert_eq!(r[0].value, ResultValue::Array(vec!["x".into(), "y".into()]));
        assert_eq!(r[1].value, ResultValue::String("hello\n".into()));
        assert!(matches!(r[2].value, ResultValue::Object(_)));
    }

    #[test]
    fn oversized_result_is_refused() {
        let d = tmp("big");
        std::fs::write(d.join("IMAGES"), vec![b'a'; MAX_RESULT_BYTES as usize + 1]).unwrap();
        let e = read_results(&d, true).unwrap_err().to_string();
        assert!(e.contains("IMAGES") && e.contains("limit"), "{e}");
    }

    #[test]
    fn symlink_leaving_the_directory_is_refused() {
        let d = tmp("link");
        std::os::unix::fs::symlink("/etc/hostname", d.join("IMAGE_URL")).unwrap();
        let e = read_results(&d, true).unwrap_err().to_string();
        assert!(e.contains("IMAGE_URL") && e.contains("outside"), "{e}");
    }

    #[test]
    fn non_utf8_result_is_refused() {
        let d = tmp("utf8");
        std::fs::write(d.join("IMAGE_URL"), [0xff, 0xfe]).unwrap();
        assert!(read_results(&d, true).is_err());
    }

    #[test]
    fn uid_must_look_like_a_uid() {
        assert!(check_uid("0f1e2d3c-aaaa-bbbb-cccc-123456789abc").is_ok());
        assert!(check_uid("").is_err());
        assert!(check_uid("../etc").is_err());
    }
}
