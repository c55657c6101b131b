//! Subjects: Chains' type hinting. Which results name the artifacts a run built (subjects), the
//! inputs it used (materials), and which images get signatures.
//!
//! The rules are Chains' (`pkg/artifacts`, `slsa/extract`), with two deliberate differences:
//! where Chains walks a Go map (several `*IMAGE_URL` or `*ARTIFACT_URI` pairs) the pairs are
//! sorted by prefix so the output is deterministic, and a hinted result that Chains would drop
//! with a log line (bad digest, unparsable image, half a pair) is an error naming the result.

use std::collections::BTreeMap;

use crate::collect::workspace::{Kind, WorkspaceSubject};
use crate::collect::{PipelineRecord, ResultValue, RunContext, RunRecord, TaskResult};

pub mod reference;

pub use reference::ImageRef;

/// An artifact with digests: an in-toto subject, a SLSA v0.2 material or a SLSA v1.0
/// resource descriptor without a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The subject name or material URI.
    pub name: String,
    /// Algorithm → lowercase hex.
    pub digest: BTreeMap<String, String>,
}

impl Artifact {
    /// A subject with the digest split at `:` as written, as Chains' subject code does (the
    /// digest has been validated already).
    fn raw(name: String, digest: &str) -> Self {
        let (alg, hex) = digest.split_once(':').unwrap_or((digest, ""));
        Self {
            name,
            digest: BTreeMap::from([(alg.to_owned(), hex.to_owned())]),
        }
    }
}

/// What type hinting found, grouped as the formats need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifacts {
    /// Images to sign (storage of `artifacts.oci`), in Chains' order: `*IMAGE_URL` pairs,
    /// `IMAGES`, then `*ARTIFACT_OUTPUTS` build artifacts that are images.
    pub images: Vec<ImageRef>,
    /// The subjects, by the rule of the [`View`] asked for.
    pub subjects: Vec<Artifact>,
    /// The git checkout from `CHAINS-GIT_URL` + `CHAINS-GIT_COMMIT` (params, then results).
    pub git: Option<Artifact>,
    /// `*ARTIFACT_INPUTS` task results.
    pub inputs: Vec<Artifact>,
    /// slsa/v2alpha4: every step's git material, then every step's `*ARTIFACT_INPUTS`.
    pub step_inputs: Vec<Artifact>,
    /// The subjects that are workspace files (`--hash`): never taken for images, whatever
    /// their names look like.
    pub workspace_files: Vec<Artifact>,
}

/// An invalid type-hinted result, named.
#[derive(Debug, thiserror::Error)]
#[error("result {result:?}: {problem}")]
pub struct HintError {
    pub result: String,
    pub problem: String,
}

fn hint_error(result: &str, problem: impl Into<String>) -> HintError {
    HintError {
        result: result.to_owned(),
        problem: problem.into(),
    }
}

const IMAGE_URL: &str = "IMAGE_URL";
const IMAGE_DIGEST: &str = "IMAGE_DIGEST";
const IMAGES: &str = "IMAGES";
const ARTIFACT_URI: &str = "ARTIFACT_URI";
const ARTIFACT_DIGEST: &str = "ARTIFACT_DIGEST";
const ARTIFACT_OUTPUTS: &str = "ARTIFACT_OUTPUTS";
const ARTIFACT_INPUTS: &str = "ARTIFACT_INPUTS";
const GIT_URL: &str = "CHAINS-GIT_URL";
const GIT_COMMIT: &str = "CHAINS-GIT_COMMIT";

/// Whether a result is one of the image hints that slsa/v2alpha4 keeps out of byproducts.
pub fn is_image_hint(name: &str) -> bool {
    name.ends_with(IMAGE_URL) || name.ends_with(IMAGE_DIGEST) || name == IMAGES
}

/// Whether slsa/v2alpha4 keeps a `*ARTIFACT_OUTPUTS` result out of byproducts: when it is a
/// build artifact (`isBuildArtifact: "true"`), valid or not, or not an object at all.
pub fn is_build_artifact(result: &TaskResult) -> bool {
    result.name.ends_with(ARTIFACT_OUTPUTS)
        && match &result.value {
            ResultValue::Object(o) => o.get("isBuildArtifact").map(String::as_str) == Some("true"),
            _ => true,
        }
}

/// How invalid type hints are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// An invalid hinted result fails the run (chainlet's default).
    Strict,
    /// An invalid hinted result is logged and dropped, as Chains does.
    Lenient,
}

/// Applies the strictness to one invalid hint: `Err` stops the run, `Ok` means "skip it".
struct Checker {
    strictness: Strictness,
}

impl Checker {
    fn invalid(&self, e: HintError) -> Result<(), HintError> {
        match self.strictness {
            Strictness::Strict => Err(e),
            Strictness::Lenient => {
                tracing::warn!(result = %e.result, "dropping invalid type-hinted result: {}", e.problem);
                Ok(())
            }
        }
    }
}

/// Which of Chains' two subject rules a format follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// slsa/v1 (in-toto) and slsa/v2alpha3: task results only; images, `*ARTIFACT_URI` pairs
    /// and every valid `*ARTIFACT_OUTPUTS`.
    TaskResults,
    /// slsa/v2alpha4: each step's results, then the task's; only build artifacts and images.
    BuildArtifacts,
}

/// Runs type hinting over a run's results for one view. Only the hints that view (and image
/// signing) reads are validated, and each result is parsed once.
pub fn subjects(
    run: &RunRecord,
    view: View,
    strictness: Strictness,
) -> Result<Artifacts, HintError> {
    let c = &Checker { strictness };
    let task = &run.results;
    let task_outputs = artifact_objects(c, task, ARTIFACT_OUTPUTS)?;
    let mut out = Artifacts {
        images: oci_images(c, task, &task_outputs)?,
        ..Artifacts::default()
    };

    match view {
        View::TaskResults => {
            for img in &out.images {
                append(&mut out.subjects, img.subject());
            }
            for (prefix, uri, digest) in pairs(c, task, ARTIFACT_URI, ARTIFACT_DIGEST)? {
                if let Err(p) = parse_digest(&digest) {
                    c.invalid(hint_error(&format!("{prefix}{ARTIFACT_DIGEST}"), p))?;
                    continue;
                }
                append(&mut out.subjects, Artifact::raw(uri, &digest));
            }
            for output in &task_outputs {
                append(&mut out.subjects, output.subject.clone());
            }
        }
        View::BuildArtifacts => {
            let mut step_git = Vec::new();
            let mut step_inputs = Vec::new();
            for step in &run.step_results {
                let outputs = artifact_objects(c, &step.results, ARTIFACT_OUTPUTS)?;
                let images = oci_images(c, &step.results, &outputs)?;
                build_artifact_subjects(&outputs, &images, &mut out.subjects);
                step_git.extend(git_material(&[], &step.results));
                step_inputs.extend(artifact_objects(c, &step.results, ARTIFACT_INPUTS)?);
            }
            build_artifact_subjects(&task_outputs, &out.images, &mut out.subjects);
            // Chains lists every step's git checkout first, then every step's inputs.
            for git in step_git {
                append(&mut out.step_inputs, git);
            }
            for input in step_inputs {
                append(&mut out.step_inputs, input.material);
            }
        }
    }

    add_workspace(&mut out, &run.workspace);
    out.git = git_material(&run.params, task);
    for input in artifact_objects(c, task, ARTIFACT_INPUTS)? {
        append(&mut out.inputs, input.material);
    }
    Ok(out)
}

/// A PipelineRun's type hints: its own results', and each finished child's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineArtifacts {
    pub own: Artifacts,
    /// Every child as the formats read a TaskRun, with its hints (empty without deep
    /// inspection, as in Chains: a child's bad hint must not fail the PipelineRun then).
    pub children: Vec<(RunRecord, Artifacts)>,
}

/// Type hinting over a PipelineRun's own results and, with `deep` inspection, each child's.
pub fn pipelinerun(
    pr: &PipelineRecord,
    view: View,
    deep: bool,
    strictness: Strictness,
) -> Result<PipelineArtifacts, HintError> {
    let own = RunRecord {
        context: RunContext {
            taskrun_name: pr.name.clone(),
            taskrun_uid: pr.uid.clone(),
            ..Default::default()
        },
        results: pr.results.clone(),
        step_results: Vec::new(),
        params: pr.params.clone(),
        started_on: pr.started_on,
        finished_on: pr.finished_on,
        api: None,
        workspace: Vec::new(),
    };
    let children = pr
        .children
        .iter()
        .map(|c| {
            let rec = RunRecord::from_api(c);
            if deep {
                subjects(&rec, view, strictness).map(|a| (rec, a))
            } else {
                Ok((rec, Artifacts::default()))
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(PipelineArtifacts {
        own: subjects(&own, view, strictness)?,
        children,
    })
}

/// Workspace subjects come after the type-hinted ones (in both views), in their sorted order,
/// merged with a hinted subject of the same name and digest. Workspace images are signed like
/// hinted images, after them.
fn add_workspace(out: &mut Artifacts, workspace: &[WorkspaceSubject]) {
    for w in workspace {
        let artifact = Artifact {
            name: w.name.clone(),
            digest: BTreeMap::from([(w.algorithm.clone(), w.hex.clone())]),
        };
        match w.kind {
            Kind::Image => {
                // Collect named it by ImageRef already; a name that does not parse back is
                // not an image to sign.
                if let Ok(img) = ImageRef::parse(&format!("{}@{}:{}", w.name, w.algorithm, w.hex))
                    && !out.images.contains(&img)
                {
                    out.images.push(img);
                }
            }
            Kind::File => append(&mut out.workspace_files, artifact.clone()),
        }
        append(&mut out.subjects, artifact);
    }
}

/// The images a TaskRun attestation goes to: every image among its subjects (as Chains does),
/// except workspace files.
pub fn attestation_images(artifacts: &Artifacts) -> Vec<ImageRef> {
    let subjects: Vec<Artifact> = artifacts
        .subjects
        .iter()
        .filter(|s| !artifacts.workspace_files.contains(s))
        .cloned()
        .collect();
    images_among(&subjects)
}

/// The subjects that name images (`repo@sha256:…`): as in Chains, an attestation goes to every
/// image among the statement's subjects.
pub fn images_among(subjects: &[Artifact]) -> Vec<ImageRef> {
    let mut out: Vec<ImageRef> = Vec::new();
    for s in subjects {
        if let Some(hex) = s.digest.get("sha256")
            && let Ok(img) = ImageRef::parse(&format!("{}@sha256:{hex}", s.name))
            && !out.contains(&img)
        {
            out.push(img);
        }
    }
    out
}

/// v2alpha4's subjects of one result set: build artifacts by raw URI, then images.
fn build_artifact_subjects(
    outputs: &[ObjectHint],
    images: &[ImageRef],
    subjects: &mut Vec<Artifact>,
) {
    for output in outputs.iter().filter(|o| o.build_artifact) {
        append(subjects, output.subject.clone());
    }
    for img in images {
        append(subjects, img.subject());
    }
}

/// Chains' `ExtractOCIImagesFromResults`: `*IMAGE_URL`/`*IMAGE_DIGEST` pairs, each `IMAGES`
/// entry, then build-artifact outputs that parse as images, without repeats.
fn oci_images(
    c: &Checker,
    results: &[TaskResult],
    outputs: &[ObjectHint],
) -> Result<Vec<ImageRef>, HintError> {
    let mut images: Vec<ImageRef> = Vec::new();
    let mut push = |img: ImageRef| {
        if !images.contains(&img) {
            images.push(img);
        }
    };
    for (prefix, url, digest) in pairs(c, results, IMAGE_URL, IMAGE_DIGEST)? {
        // A bad digest is the digest result's fault, not the URL's.
        let sha256_hex = digest.strip_prefix("sha256:").is_some_and(|h| {
            h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if !sha256_hex {
            c.invalid(hint_error(
                &format!("{prefix}{IMAGE_DIGEST}"),
                format!("{digest:?} (the digest of {url:?}) is not sha256: and 64 lowercase hex characters"),
            ))?;
            continue;
        }
        match ImageRef::parse(&format!("{url}@{digest}")) {
            Ok(img) => push(img),
            Err(p) => c.invalid(hint_error(
                &format!("{prefix}{IMAGE_URL}"),
                format!("{url:?} with digest {digest:?}: {p}"),
            ))?,
        }
    }
    for r in results.iter().filter(|r| r.name == IMAGES) {
        let Some(text) = r.value.as_str() else {
            continue;
        };
        for entry in text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            match ImageRef::parse(entry) {
                Ok(img) => push(img),
                Err(p) => c.invalid(hint_error(IMAGES, format!("entry {entry:?}: {p}")))?,
            }
        }
    }
    for output in outputs.iter().filter(|o| o.build_artifact) {
        // A build artifact that is not an image (a package, a binary) is a subject, not an
        // image to sign.
        if let Ok(img) = ImageRef::parse(&format!("{}@{}", output.uri_raw, output.digest_raw)) {
            push(img);
        }
    }
    Ok(images)
}

/// Pairs `<prefix><a>` with `<prefix><b>` string results, sorted by prefix. Values are trimmed;
/// an empty value counts as absent (as in Chains); a non-empty half without its partner is an
/// error.
fn pairs(
    c: &Checker,
    results: &[TaskResult],
    a: &str,
    b: &str,
) -> Result<Vec<(String, String, String)>, HintError> {
    let mut halves: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for r in results {
        let Some(value) = r.value.as_str() else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if let Some(prefix) = r.name.strip_suffix(a) {
            halves.entry(prefix.to_owned()).or_default().0 = Some(value.to_owned());
        } else if let Some(prefix) = r.name.strip_suffix(b) {
            halves.entry(prefix.to_owned()).or_default().1 = Some(value.to_owned());
        }
    }
    let mut out = Vec::new();
    for (prefix, halves) in halves {
        match halves {
            (Some(x), Some(y)) => out.push((prefix, x, y)),
            (Some(_), None) => c.invalid(hint_error(
                &format!("{prefix}{a}"),
                format!("has no matching {prefix}{b} result"),
            ))?,
            (None, Some(_)) => c.invalid(hint_error(
                &format!("{prefix}{b}"),
                format!("has no matching {prefix}{a} result"),
            ))?,
            (None, None) => unreachable!("an entry exists only once a half was seen"),
        }
    }
    Ok(out)
}

struct ObjectHint {
    /// As a subject: Chains splits the digest as written (`SHA256:…` keeps its case).
    subject: Artifact,
    /// As a material: Chains uses the validated, lowercased algorithm.
    material: Artifact,
    uri_raw: String,
    digest_raw: String,
    build_artifact: bool,
}

/// Valid `*ARTIFACT_OUTPUTS` / `*ARTIFACT_INPUTS` object results, in result order.
fn artifact_objects(
    c: &Checker,
    results: &[TaskResult],
    suffix: &str,
) -> Result<Vec<ObjectHint>, HintError> {
    let mut out = Vec::new();
    for r in results.iter().filter(|r| r.name.ends_with(suffix)) {
        match object_hint(r, suffix) {
            Ok(hint) => out.push(hint),
            Err(e) => c.invalid(e)?,
        }
    }
    Ok(out)
}

fn object_hint(r: &TaskResult, suffix: &str) -> Result<ObjectHint, HintError> {
    let ResultValue::Object(obj) = &r.value else {
        return Err(hint_error(
            &r.name,
            "must be a JSON object of strings like {\"uri\":…,\"digest\":\"sha256:…\"}",
        ));
    };
    let field = |k: &str| obj.get(k).map(String::as_str).unwrap_or("");
    let (uri, digest) = (field("uri"), field("digest"));
    if uri.is_empty() {
        return Err(hint_error(&r.name, "object has no \"uri\""));
    }
    if digest.is_empty() {
        return Err(hint_error(&r.name, "object has no \"digest\""));
    }
    let (alg, hex) = parse_digest(digest).map_err(|p| hint_error(&r.name, p))?;
    let build_artifact = match obj.get("isBuildArtifact").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) if suffix == ARTIFACT_OUTPUTS => {
            return Err(hint_error(
                &r.name,
                format!("isBuildArtifact is {other:?}; Chains reads only \"true\" or \"false\""),
            ));
        }
        Some(_) => false,
    };
    Ok(ObjectHint {
        subject: Artifact::raw(uri.to_owned(), digest),
        material: Artifact {
            name: uri.to_owned(),
            digest: BTreeMap::from([(alg, hex)]),
        },
        uri_raw: uri.to_owned(),
        digest_raw: digest.to_owned(),
        build_artifact,
    })
}

/// The git material from `CHAINS-GIT_URL` and `CHAINS-GIT_COMMIT`: params first, results
/// override. Chains writes the URI as `git+<url>.git` and the commit under `sha1`; a commit
/// without a URL gives `git+.git`, as in Chains.
fn git_material(params: &[(String, String)], results: &[TaskResult]) -> Option<Artifact> {
    let mut url = String::new();
    let mut commit = String::new();
    for (name, value) in params {
        match name.as_str() {
            GIT_URL => url = value.clone(),
            GIT_COMMIT => commit = value.clone(),
            _ => {}
        }
    }
    for r in results {
        if let Some(v) = r.value.as_str() {
            match r.name.as_str() {
                GIT_URL => url = v.to_owned(),
                GIT_COMMIT => commit = v.to_owned(),
                _ => {}
            }
        }
    }
    if commit.is_empty() {
        return None;
    }
    let mut uri = url;
    if !uri.starts_with("git+") {
        uri.insert_str(0, "git+");
    }
    if !uri.ends_with(".git") {
        uri.push_str(".git");
    }
    Some(Artifact {
        name: uri,
        digest: BTreeMap::from([("sha1".to_owned(), commit)]),
    })
}

/// Validates an `alg:hex` digest as Chains' ARTIFACT_* hints do (go-digest): sha256, sha384,
/// sha512 or sha1, lowercase hex of the right length. The algorithm is lowercased.
pub fn parse_digest(d: &str) -> Result<(String, String), String> {
    let (alg, hex) = d
        .split_once(':')
        .filter(|(_, h)| !h.contains(':'))
        .ok_or_else(|| format!("digest {d:?} is not of the form algorithm:hex"))?;
    let alg = alg.trim().to_ascii_lowercase();
    let hex = hex.trim();
    let len = match alg.as_str() {
        "sha1" => 40,
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            return Err(format!(
                "digest algorithm {alg:?} is not one of sha1, sha256, sha384, sha512"
            ));
        }
    };
    if hex.len() != len || !hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "digest {d:?}: {alg} needs {len} lowercase hex characters"
        ));
    }
    Ok((alg, hex.to_owned()))
}

/// Chains' `AppendSubjects`/`AppendMaterials`: an item with the same name as an existing one
/// and at least one identical digest is merged into it; anything else is appended.
pub fn append(list: &mut Vec<Artifact>, item: Artifact) {
    if let Some(existing) = list.iter_mut().find(|e| {
        e.name == item.name && e.digest.iter().any(|(k, v)| item.digest.get(k) == Some(v))
    }) {
        existing.digest.extend(item.digest);
    } else {
        list.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::{RunContext, StepResults};

    const D1: &str = "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4";
    const D2: &str = "a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2";

    fn s(name: &str, v: &str) -> TaskResult {
        TaskResult {
            name: name.into(),
            value: ResultValue::String(v.into()),
        }
    }

    fn obj(name: &str, fields: &[(&str, &str)]) -> TaskResult {
        TaskResult {
            name: name.into(),
            value: ResultValue::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }
    }

    fn run(mut results: Vec<TaskResult>) -> RunRecord {
        results.sort_by(|a, b| a.name.cmp(&b.name));
        RunRecord {
            context: RunContext::default(),
            results,
            step_results: vec![],
            params: vec![],
            started_on: None,
            finished_on: None,
            api: None,
            workspace: vec![],
        }
    }

    fn subjects_strict(r: &RunRecord) -> Result<Artifacts, HintError> {
        subjects(r, View::TaskResults, Strictness::Strict)
    }

    fn v2alpha4(r: &RunRecord) -> Artifacts {
        subjects(r, View::BuildArtifacts, Strictness::Strict).unwrap()
    }

    #[test]
    fn lenient_mode_drops_invalid_hints_like_chains() {
        let r = run(vec![
            s("IMAGE_URL", "gcr.io/a"),
            s("IMAGE_DIGEST", "sha256:bad"),
            obj(
                "x-ARTIFACT_OUTPUTS",
                &[("uri", "gcr.io/bb"), ("digest", "sha256:basd-sha")],
            ),
        ]);
        assert!(subjects(&r, View::TaskResults, Strictness::Strict).is_err());
        let a = subjects(&r, View::TaskResults, Strictness::Lenient).unwrap();
        assert!(a.subjects.is_empty() && a.images.is_empty());
    }

    fn names(a: &[Artifact]) -> Vec<&str> {
        a.iter().map(|x| x.name.as_str()).collect()
    }

    #[test]
    fn image_pair_is_normalised_and_tag_stripped() {
        let a = subjects_strict(&run(vec![
            s("IMAGE_URL", " gcr.io/foo/bat:latest\n"),
            s("IMAGE_DIGEST", &format!("sha256:{D1}\n")),
        ]))
        .unwrap();
        assert_eq!(names(&a.subjects), ["gcr.io/foo/bat"]);
        assert_eq!(a.subjects[0].digest["sha256"], D1);
    }

    #[test]
    fn several_pairs_come_out_sorted_by_prefix() {
        let a = subjects_strict(&run(vec![
            s("z-IMAGE_URL", "reg.io/zz"),
            s("z-IMAGE_DIGEST", &format!("sha256:{D1}")),
            s("a-IMAGE_URL", "reg.io/aa"),
            s("a-IMAGE_DIGEST", &format!("sha256:{D2}")),
        ]))
        .unwrap();
        assert_eq!(names(&a.subjects), ["reg.io/aa", "reg.io/zz"]);
    }

    #[test]
    fn images_result_splits_on_commas_and_newlines_and_dedupes() {
        let a = subjects_strict(&run(vec![
            s("IMAGE_URL", "img1"),
            s("IMAGE_DIGEST", &format!("sha256:{D1}")),
            s(
                "IMAGES",
                &format!(" img1@sha256:{D1},\n\n docker.io/x/y:v1@sha256:{D2}\n"),
            ),
        ]))
        .unwrap();
        assert_eq!(
            names(&a.subjects),
            ["index.docker.io/library/img1", "index.docker.io/x/y"]
        );
        assert_eq!(a.images.len(), 2);
    }

    #[test]
    fn bad_digest_is_an_error_naming_the_result() {
        let e = subjects_strict(&run(vec![
            s("app-IMAGE_URL", "gcr.io/a"),
            s("app-IMAGE_DIGEST", "sha256:XYZ"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("app-IMAGE_DIGEST"), "{e}");
    }

    #[test]
    fn half_a_pair_is_an_error() {
        let e = subjects_strict(&run(vec![s("IMAGE_URL", "gcr.io/a")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("IMAGE_DIGEST"), "{e}");
    }

    #[test]
    fn empty_values_count_as_absent() {
        let a = subjects_strict(&run(vec![s("IMAGE_URL", ""), s("IMAGE_DIGEST", " ")])).unwrap();
        assert!(a.subjects.is_empty());
    }

    #[test]
    fn v1_takes_every_output_v2alpha4_only_build_artifacts() {
        let r = run(vec![
            obj(
                "a-ARTIFACT_OUTPUTS",
                &[("uri", "pkg:maven/a"), ("digest", &format!("sha256:{D1}"))],
            ),
            obj(
                "b-ARTIFACT_OUTPUTS",
                &[
                    ("uri", "gcr.io/bb:tag"),
                    ("digest", &format!("sha256:{D2}")),
                    ("isBuildArtifact", "true"),
                ],
            ),
        ]);
        // v1: images first (normalised b), then every output by raw URI.
        assert_eq!(
            names(&subjects_strict(&r).unwrap().subjects),
            ["gcr.io/bb", "pkg:maven/a", "gcr.io/bb:tag"]
        );
        // v2alpha4: build artifacts by raw URI, then the image (a different name).
        assert_eq!(
            names(&v2alpha4(&r).subjects),
            ["gcr.io/bb:tag", "gcr.io/bb"]
        );
    }

    #[test]
    fn step_results_come_before_task_results_in_v2alpha4() {
        let mut r = run(vec![
            s("IMAGE_URL", "gcr.io/my/image"),
            s("IMAGE_DIGEST", &format!("sha256:{D1}")),
        ]);
        r.step_results = vec![StepResults {
            step: "build".into(),
            results: vec![obj(
                "ARTIFACT_OUTPUTS",
                &[
                    ("uri", "gcr.io/my/image/fromstep3"),
                    ("digest", &format!("sha256:{D2}")),
                    ("isBuildArtifact", "true"),
                ],
            )],
        }];
        assert_eq!(
            names(&v2alpha4(&r).subjects),
            ["gcr.io/my/image/fromstep3", "gcr.io/my/image"]
        );
        assert_eq!(
            names(&subjects_strict(&r).unwrap().subjects),
            ["gcr.io/my/image"]
        );
    }

    #[test]
    fn v2alpha4_lists_every_steps_git_then_every_steps_inputs() {
        let mut r = run(vec![]);
        let step = |n: &str| StepResults {
            step: n.into(),
            results: vec![
                s("CHAINS-GIT_COMMIT", &format!("c-{n}")),
                s("CHAINS-GIT_URL", &format!("https://g/{n}")),
                obj(
                    "x-ARTIFACT_INPUTS",
                    &[
                        ("uri", &format!("in-{n}")),
                        ("digest", &format!("sha256:{D1}")),
                    ],
                ),
            ],
        };
        r.step_results = vec![step("a"), step("b")];
        assert_eq!(
            names(&v2alpha4(&r).step_inputs),
            ["git+https://g/a.git", "git+https://g/b.git", "in-a", "in-b"]
        );
    }

    #[test]
    fn hints_a_format_does_not_read_are_not_validated() {
        // v2alpha4 ignores ARTIFACT_URI pairs; v1 ignores step results.
        let mut r = run(vec![s("x-ARTIFACT_URI", "pkg:a")]);
        assert!(subjects(&r, View::BuildArtifacts, Strictness::Strict).is_ok());
        assert!(subjects(&r, View::TaskResults, Strictness::Strict).is_err());
        r.results.clear();
        r.step_results = vec![StepResults {
            step: "s".into(),
            results: vec![s("IMAGE_URL", "gcr.io/half/pair")],
        }];
        assert!(subjects(&r, View::TaskResults, Strictness::Strict).is_ok());
        assert!(subjects(&r, View::BuildArtifacts, Strictness::Strict).is_err());
    }

    #[test]
    fn subject_digest_keeps_the_algorithm_as_written() {
        let r = run(vec![obj(
            "a-ARTIFACT_OUTPUTS",
            &[("uri", "pkg:a"), ("digest", &format!("SHA256:{D1}"))],
        )]);
        assert!(
            subjects_strict(&r).unwrap().subjects[0]
                .digest
                .contains_key("SHA256")
        );
    }

    #[test]
    fn git_material_from_params_then_results() {
        let mut r = run(vec![s("CHAINS-GIT_COMMIT", "abc")]);
        r.params = vec![
            ("CHAINS-GIT_URL".into(), "https://git.test.com".into()),
            ("CHAINS-GIT_COMMIT".into(), "old".into()),
        ];
        let a = subjects_strict(&r).unwrap();
        let git = a.git.unwrap();
        assert_eq!(git.name, "git+https://git.test.com.git");
        assert_eq!(git.digest["sha1"], "abc");
    }

    #[test]
    fn same_name_and_digest_merge_different_digest_does_not() {
        let mut list = vec![];
        let art = |d: &str| Artifact {
            name: "x".into(),
            digest: BTreeMap::from([("sha256".into(), d.into())]),
        };
        append(&mut list, art(D1));
        append(&mut list, art(D1));
        append(&mut list, art(D2));
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn workspace_subjects_follow_hinted_ones_deduplicated_in_both_views() {
        let ws = |kind, name: &str, hex: &str| WorkspaceSubject {
            kind,
            name: name.into(),
            algorithm: "sha256".into(),
            hex: hex.into(),
        };
        let mut r = run(vec![
            s("IMAGE_URL", "reg.io/app:v1"),
            s("IMAGE_DIGEST", &format!("sha256:{D1}")),
        ]);
        r.workspace = vec![
            ws(Kind::Image, "reg.io/app", D1),
            ws(Kind::Image, "reg.io/other", D2),
            ws(Kind::File, "dist/app.tgz", D2),
        ];
        for view in [View::TaskResults, View::BuildArtifacts] {
            let a = subjects(&r, view, Strictness::Strict).unwrap();
            assert_eq!(
                names(&a.subjects),
                ["reg.io/app", "reg.io/other", "dist/app.tgz"],
                "{view:?}"
            );
            assert_eq!(a.images.len(), 2);
            // A file is a subject, never an image the attestation is pushed to.
            let att: Vec<String> = attestation_images(&a)
                .iter()
                .map(|i| i.repo_name())
                .collect();
            assert_eq!(att, ["reg.io/app", "reg.io/other"]);
        }
    }

    #[test]
    fn artifact_digest_rules() {
        assert!(parse_digest(&format!("SHA256:{D1}")).is_ok());
        assert!(parse_digest(&format!("sha256:{}", D1.to_uppercase())).is_err());
        assert!(parse_digest("sha1:0123456789012345678901234567890123456789").is_ok());
        assert!(parse_digest("md5:00").is_err());
        assert!(parse_digest("sha256:a:b").is_err());
    }
}
