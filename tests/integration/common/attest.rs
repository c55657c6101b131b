//! `chainlet attest` as the tests assemble it. [`Attest`] starts from a pod's folders and adds
//! the run, its storage, config keys, flags and environment in the order they are given, so a
//! later `--set` of a key wins over an earlier one, as on a command line:
//!
//! ```ignore
//! Attest::new(&pod).taskrun("build-run", UID).storage_oci().set("k=v").arg("--x").run()
//! ```

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Output;

use super::Pod;
use super::kubeapi::PodApi;

/// The start and finish times the tests pin, so that a re-run gives the same bytes.
pub const STARTED_ON: &str = "2026-01-02T03:04:05Z";
pub const FINISHED_ON: &str = "2026-01-02T03:05:06Z";

/// One `chainlet attest` command line and its environment; [`Attest::run`] runs it.
#[derive(Clone)]
pub struct Attest {
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    /// The pod's `out/`, for [`Attest::out`].
    out: Option<PathBuf>,
    dir: Option<PathBuf>,
}

impl Attest {
    /// `chainlet attest` reading the pod's `results/` and `steps/` and signing with its
    /// `secrets/`.
    pub fn new(pod: &Pod) -> Self {
        Self {
            out: Some(pod.path("out")),
            ..Self::bare()
        }
        .flag("--results-dir", pod.path("results"))
        .flag("--steps-dir", pod.path("steps"))
        .flag("--signing-secrets", pod.path("secrets"))
    }

    /// `chainlet attest` and nothing else yet: for a test that names every folder itself.
    pub fn bare() -> Self {
        Self {
            args: vec!["attest".into()],
            env: Vec::new(),
            out: None,
            dir: None,
        }
    }

    /// What [`Pod::attest`] runs: the TaskRun `build-run` with [`super::UID`], storage `file`
    /// for both artifact types, the pinned times.
    pub fn offline(pod: &Pod) -> Self {
        Self::new(pod)
            .taskrun("build-run", super::UID)
            .storage_file()
            .times()
    }

    /// The TaskRun's name and UID.
    pub fn taskrun(self, name: &str, uid: &str) -> Self {
        self.flag("--taskrun-name", name).flag("--taskrun-uid", uid)
    }

    /// `--pipelinerun` with the PipelineRun's name and UID.
    pub fn pipelinerun(self, name: &str, uid: &str) -> Self {
        self.arg("--pipelinerun")
            .flag("--pipelinerun-name", name)
            .flag("--pipelinerun-uid", uid)
    }

    /// `--set artifacts.<artifact>.storage=<storage>`.
    pub fn storage(self, artifact: &str, storage: &str) -> Self {
        self.set(&format!("artifacts.{artifact}.storage={storage}"))
    }

    /// `--set artifacts.<artifact>.format=<format>`.
    pub fn format(self, artifact: &str, format: &str) -> Self {
        self.set(&format!("artifacts.{artifact}.format={format}"))
    }

    /// `--output-dir` the pod's `out/` (where storage `file` writes).
    pub fn out(self) -> Self {
        let out = self
            .out
            .clone()
            .expect("the output dir is a pod's out/: start from Attest::new");
        self.flag("--output-dir", out)
    }

    /// Storage `file` for the TaskRun and the images, into the pod's `out/`.
    pub fn storage_file(self) -> Self {
        self.out().storage("taskrun", "file").storage("oci", "file")
    }

    /// Storage `oci` for the TaskRun and the images.
    pub fn storage_oci(self) -> Self {
        self.storage("taskrun", "oci").storage("oci", "oci")
    }

    /// `--set key=value`.
    pub fn set(self, key_value: &str) -> Self {
        self.flag("--set", key_value)
    }

    /// The pinned [`STARTED_ON`] and [`FINISHED_ON`].
    pub fn times(self) -> Self {
        self.flag("--started-on", STARTED_ON)
            .flag("--finished-on", FINISHED_ON)
    }

    /// The namespace and the pod's environment for the API server `api`.
    pub fn api(self, api: &dyn PodApi) -> Self {
        let mut attest = self.flag("--namespace", api.namespace());
        for (key, value) in api.env() {
            attest = attest.env(key, &value);
        }
        attest
    }

    /// A flag and its value.
    pub fn flag(self, name: &str, value: impl AsRef<OsStr>) -> Self {
        self.arg(name).arg(value)
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<S: AsRef<OsStr>>(self, args: impl IntoIterator<Item = S>) -> Self {
        args.into_iter().fold(self, Self::arg)
    }

    /// An environment variable for chainlet (on top of [`super::command`]'s clean one).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs chainlet in `dir` (relative paths are the pod's own).
    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_owned());
        self
    }

    pub fn run(&self) -> Output {
        let mut cmd = super::command();
        cmd.args(&self.args);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd.output().expect("chainlet runs")
    }
}
