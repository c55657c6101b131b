//! The command line, defined once: every flag has its help, default and `CHAINLET_*`
//! environment variable here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// chainlet does what the Tekton Chains controller does, inside the TaskRun's pod: it reads the
/// task's results, writes SLSA provenance, signs it with the mounted signing-secrets keys and
/// stores it where Chains would.
#[derive(Debug, Parser)]
#[command(name = "chainlet", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 everything stored; 1 an error (one line on stderr); \
                        2 bad usage or bad configuration."
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human, env = "CHAINLET_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Log level or filter (error, warn, info, debug, trace).
    #[arg(
        long,
        global = true,
        default_value = "info",
        env = "CHAINLET_LOG_LEVEL"
    )]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Attest the run: collect results → provenance → sign → store.
    #[command(after_help = ATTEST_EXAMPLES, args_override_self = true)]
    Attest(Box<AttestArgs>),
    /// Write a cosign-compatible key pair: P.key (encrypted) and P.pub.
    #[command(
        after_help = "The password comes from COSIGN_PASSWORD (which may be empty) or, \
                            on a terminal, from a prompt. Existing files are never overwritten.\n\
                            The key works with `cosign sign-blob --key P.key` and as the \
                            cosign.key of a signing-secrets Secret."
    )]
    GenerateKeyPair(KeyPairArgs),
    /// Print the version.
    Version,
}

const ATTEST_EXAMPLES: &str = "\
Examples:
  # In a Tekton step, with the defaults (/tekton/results, /etc/signing-secrets, storage oci):
  # image signatures and the attestation next to each image in its registry
  chainlet attest --taskrun-name $(context.taskRun.name) --taskrun-uid $(context.taskRun.uid)

  # Offline, everything to files:
  chainlet attest --results-dir R --signing-secrets S --taskrun-name N --taskrun-uid U \\
      --output-dir D --set artifacts.taskrun.storage=file --set artifacts.oci.storage=file

  # As Chains stores it: on the TaskRun's annotations (needs a Role allowing get and patch on
  # taskruns; the TaskRun is read from the Kubernetes API for the full provenance):
  chainlet attest --taskrun-name $(context.taskRun.name) --taskrun-uid $(context.taskRun.uid) \\
      --namespace $(context.taskRun.namespace) --set artifacts.taskrun.storage=tekton

  # In a Pipeline's finally Task: the PipelineRun's attestation
  chainlet attest --pipelinerun --pipelinerun-name $(params.pipelinerun-name) \\
      --pipelinerun-uid $(params.pipelinerun-uid) -- IMAGE_URL=$(tasks.build.results.IMAGE_URL)

  # Show the resolved configuration and where each value came from:
  chainlet attest --print-config --set artifacts.taskrun.format=slsa/v1

Config keys are Chains' chains-config keys (see README). Sources, later wins: defaults <
--config-dir files < --override (empty values skipped) < --set. An empty CHAINLET_*
variable counts as unset.";

#[derive(Debug, Args)]
pub struct AttestArgs {
    /// Task results written by earlier steps.
    #[arg(long, default_value = "/tekton/results", env = "CHAINLET_RESULTS_DIR")]
    pub results_dir: PathBuf,
    /// StepAction step results (step-<name>/results/<name>).
    #[arg(long, default_value = "/tekton/steps", env = "CHAINLET_STEPS_DIR")]
    pub steps_dir: PathBuf,
    /// The signing-secrets Secret: x509.pem, or cosign.key + cosign.password.
    #[arg(
        long,
        default_value = "/etc/signing-secrets",
        env = "CHAINLET_SIGNING_SECRETS"
    )]
    pub signing_secrets: PathBuf,
    /// A mounted chains-config ConfigMap (one file per key). Default: /etc/chains-config when it
    /// exists.
    #[arg(long, env = "CHAINLET_CONFIG_DIR")]
    pub config_dir: Option<PathBuf>,
    /// Set a Chains config key, e.g. --set artifacts.taskrun.format=slsa/v1. Repeatable; in the
    /// environment variable, one KEY=VALUE per line.
    #[arg(
        long = "set",
        value_name = "KEY=VALUE",
        env = "CHAINLET_SET",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub sets: Vec<String>,
    /// Like --set, but an empty VALUE means "not given", so the config directory's value
    /// stays: for Tekton params whose empty default should not hide the chains-config
    /// ConfigMap. Between the config directory and --set. In the environment, one per line.
    #[arg(
        long = "override",
        value_name = "KEY=VALUE",
        env = "CHAINLET_OVERRIDES",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub overrides: Vec<String>,
    /// Directory for storage `file`; also adds `file` to every artifact type's storage.
    #[arg(long, env = "CHAINLET_OUTPUT_DIR")]
    pub output_dir: Option<PathBuf>,
    /// The TaskRun's name: $(context.taskRun.name). Required.
    #[arg(long, default_value = "", env = "CHAINLET_TASKRUN_NAME")]
    pub taskrun_name: String,
    /// The TaskRun's UID: $(context.taskRun.uid). Required.
    #[arg(long, default_value = "", env = "CHAINLET_TASKRUN_UID")]
    pub taskrun_uid: String,
    /// The TaskRun's namespace: $(context.taskRun.namespace). Not in payloads; for the
    /// TaskRun API features.
    #[arg(long, default_value = "", env = "CHAINLET_NAMESPACE")]
    pub namespace: String,
    /// The Task's name: $(context.task.name). Not in payloads yet.
    #[arg(long, default_value = "", env = "CHAINLET_TASK_NAME")]
    pub task_name: String,
    /// The PipelineRun's name: $(context.pipelineRun.name), passed from the Pipeline. Not in
    /// TaskRun payloads; required with --pipelinerun.
    #[arg(long, default_value = "", env = "CHAINLET_PIPELINERUN_NAME")]
    pub pipelinerun_name: String,
    /// The PipelineRun's UID: $(context.pipelineRun.uid). Required with --pipelinerun.
    #[arg(long, default_value = "", env = "CHAINLET_PIPELINERUN_UID")]
    pub pipelinerun_uid: String,
    /// Attest the PipelineRun named by --pipelinerun-name and --pipelinerun-uid instead of the
    /// TaskRun: for a Pipeline's finally Task. Uses the artifacts.pipelinerun.* keys.
    #[arg(long, env = "CHAINLET_PIPELINERUN")]
    pub pipelinerun: bool,
    /// With --pipelinerun: a PipelineRun result, e.g.
    /// IMAGE_URL=$(tasks.build.results.IMAGE_URL) (a finally Task sees no PipelineRun results;
    /// with the Kubernetes API they are computed from the Pipeline and its TaskRuns, and these
    /// add to or replace them). Repeatable; in the environment, one per line.
    #[arg(
        long = "pipeline-result",
        value_name = "NAME=VALUE",
        env = "CHAINLET_PIPELINE_RESULTS",
        value_delimiter = '\n'
    )]
    pub pipeline_results: Vec<String>,
    /// With --pipelinerun: more PipelineRun results, one NAME=VALUE per argument after `--`,
    /// taken whole (a value may hold line breaks): what a Tekton array param gives with
    /// args: [..., "--", "$(params.results[*])"].
    #[arg(last = true, value_name = "NAME=VALUE")]
    pub pipeline_result_args: Vec<String>,
    /// A TaskRun parameter to record (the pod cannot read them otherwise), e.g.
    /// --param CHAINS-GIT_URL=$(params.url). Repeatable; in the environment, one per line.
    #[arg(
        long = "param",
        value_name = "NAME=VALUE",
        env = "CHAINLET_PARAMS",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub params: Vec<String>,
    /// When the build started (RFC 3339, e.g. 2026-01-02T03:04:05Z). Default: when the results
    /// directory was created.
    #[arg(long, env = "CHAINLET_STARTED_ON")]
    pub started_on: Option<String>,
    /// When the build finished (RFC 3339). Default: now.
    #[arg(long, env = "CHAINLET_FINISHED_ON")]
    pub finished_on: Option<String>,
    /// Reach this registry (host or host:port) over plain HTTP. Repeatable; in the environment,
    /// one per line. TLS is verified for every other registry.
    #[arg(
        long = "insecure-registry",
        value_name = "HOST[:PORT]",
        env = "CHAINLET_INSECURE_REGISTRIES",
        value_delimiter = '\n'
    )]
    pub insecure_registries: Vec<String>,
    /// Extra CA certificates (PEM) trusted for registries, besides the system's.
    #[arg(long, value_name = "FILE", env = "CHAINLET_REGISTRY_CA")]
    pub registry_ca: Option<PathBuf>,
    /// A Sigstore trusted root (JSON, as cosign 3's --trusted-root): the transparency log's
    /// key and the timestamp authority's chain that its answers are checked against. Without
    /// one, a Rekor v1 log's key is read from the log itself.
    #[arg(long, value_name = "FILE", env = "CHAINLET_TRUSTED_ROOT")]
    pub trusted_root: Option<PathBuf>,
    /// A Sigstore signing config (JSON, as cosign 3's --signing-config): which log (and its API
    /// version) and which timestamp authority to use when transparency.url is left at its default.
    #[arg(long, value_name = "FILE", env = "CHAINLET_SIGNING_CONFIG")]
    pub signing_config: Option<PathBuf>,
    /// The Rekor API transparency.url speaks: 1 (rekor.sigstore.dev, Chains) or 2 (tile-backed
    /// Rekor v2, which needs a timestamp authority). Default: from --signing-config, else 1.
    #[arg(long, value_name = "1|2", value_parser = clap::value_parser!(u8).range(1..=2), env = "CHAINLET_REKOR_VERSION")]
    pub rekor_version: Option<u8>,
    /// An RFC 3161 timestamp authority for the signing time
    /// (https://timestamp.sigstore.dev/api/v1/timestamp); required with a Rekor v2 log unless
    /// --signing-config names one.
    #[arg(long, value_name = "URL", env = "CHAINLET_TIMESTAMP_URL")]
    pub timestamp_url: Option<String>,
    /// Registry credentials: a directory with config.json or .dockerconfigjson (a mounted
    /// kubernetes.io/dockerconfigjson Secret). Default: $DOCKER_CONFIG, then ~/.docker.
    #[arg(long, value_name = "DIR", env = "CHAINLET_DOCKER_CONFIG")]
    pub docker_config: Option<PathBuf>,
    /// Seconds all registry and transparency log work may take, retries included.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 120,
        env = "CHAINLET_REGISTRY_TIMEOUT"
    )]
    pub registry_timeout: u64,
    /// Milliseconds storage oci waits after its last write before reading every tag it wrote
    /// (`.sig`, `.att`, the referrers tag) once more and writing again what a slower writer
    /// (cosign) erased meanwhile; 0 turns the last re-check off.
    #[arg(
        long,
        value_name = "MILLISECONDS",
        default_value_t = 500,
        env = "CHAINLET_REGISTRY_SETTLE"
    )]
    pub registry_settle: u64,
    /// Read the TaskRun from the Kubernetes API for the full provenance (spec, step image
    /// digests, refSource, feature flags, labels): auto = when the pod has a service-account
    /// token (a refused read is a warning), on = required, off = never (storage and format
    /// `tekton` need it).
    #[arg(
        long,
        value_enum,
        default_value_t = TaskRunApi::Auto,
        env = "CHAINLET_TASKRUN_API"
    )]
    pub taskrun_api: TaskRunApi,
    /// Where the service account's token, ca.crt and namespace are mounted.
    #[arg(
        long,
        value_name = "DIR",
        default_value = crate::kube::DEFAULT_SERVICEACCOUNT_DIR,
        env = "CHAINLET_SERVICEACCOUNT_DIR"
    )]
    pub serviceaccount_dir: PathBuf,
    /// After a successful run, write a result: statement-digest (sha256:<hex> of the signed
    /// payload), subjects (JSON array of name@alg:hex), log-index or log-uuid (the
    /// transparency log entry of the attestation, else of the first image signature; empty
    /// when nothing was logged), e.g.
    /// --write-result statement-digest=$(step.results.statement-digest.path). Repeatable; in the
    /// environment, one per line.
    #[arg(
        long = "write-result",
        value_name = "NAME=PATH",
        env = "CHAINLET_WRITE_RESULTS",
        value_delimiter = '\n'
    )]
    pub write_results: Vec<String>,
    /// Drop invalid type-hinted results with a warning, as Chains does, instead of failing.
    #[arg(long, env = "CHAINLET_SKIP_INVALID_HINTS")]
    pub skip_invalid_hints: bool,
    /// Print the resolved configuration with the source of each value, then exit.
    #[arg(long, env = "CHAINLET_PRINT_CONFIG")]
    pub print_config: bool,
    /// Workspace subjects: a directory that --oci-layout, --digest-file and --hash may read
    /// from, e.g. $(workspaces.source.path). Every path they name must lie inside one, with
    /// symlinks resolved. Default: /workspace. Repeatable; in the environment, one per line.
    #[arg(
        long = "workspace",
        value_name = "DIR",
        env = "CHAINLET_WORKSPACES",
        value_delimiter = '\n',
        help_heading = "Workspace subjects"
    )]
    pub workspaces: Vec<PathBuf>,
    /// An OCI image layout (skopeo copy … oci:DIR, buildah push … oci:DIR): every manifest
    /// and index in its index.json is a subject and gets a signature and the attestation.
    /// Named by its org.opencontainers.image.ref.name annotation when that is a full
    /// reference (host/repo[:tag]), else by REPOSITORY (e.g. registry.example/team/app).
    /// Repeatable; in the environment, one per line.
    #[arg(
        long = "oci-layout",
        value_name = "DIR[=REPOSITORY]",
        env = "CHAINLET_OCI_LAYOUTS",
        value_delimiter = '\n',
        help_heading = "Workspace subjects"
    )]
    pub oci_layouts: Vec<String>,
    /// A builder's digest file, told apart by content: a bare sha256:<hex> (buildah
    /// --digestfile, kaniko --digest-file; needs =IMAGE), repo@sha256:<hex> lines (kaniko
    /// --image-name-with-digest-file, ko --image-refs) or docker buildx --metadata-file JSON.
    /// Each image is a subject and gets a signature and the attestation. Repeatable; in the
    /// environment, one per line.
    #[arg(
        long = "digest-file",
        value_name = "PATH[=IMAGE]",
        env = "CHAINLET_DIGEST_FILES",
        value_delimiter = '\n',
        help_heading = "Workspace subjects"
    )]
    pub digest_files: Vec<String>,
    /// Files to hash as subjects: a path or a glob (* and ? within a name, ** for any
    /// directories; hidden names only when spelled with their dot), e.g.
    /// 'dist/**/*.tar.gz'. Named by the path relative to the workspace root, or
    /// PREFIX + that path (PREFIX a URI such as pkg:generic/ or https://host/files/). A
    /// pattern that matches nothing fails the run. Repeatable; in the environment, one per
    /// line.
    #[arg(
        long = "hash",
        value_name = "GLOB[=PREFIX]",
        env = "CHAINLET_HASH",
        value_delimiter = '\n',
        help_heading = "Workspace subjects"
    )]
    pub hash: Vec<String>,
    /// The digest algorithm of --hash.
    #[arg(
        long,
        value_enum,
        default_value_t = HashAlgorithm::Sha256,
        env = "CHAINLET_HASH_ALGORITHM",
        help_heading = "Workspace subjects"
    )]
    pub hash_algorithm: HashAlgorithm,
}

/// The digest algorithm of `--hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HashAlgorithm {
    Sha256,
    Sha512,
}

impl HashAlgorithm {
    /// The name in-toto digests use.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha512 => "sha512",
        }
    }
}

/// Whether `attest` reads the TaskRun from the Kubernetes API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TaskRunApi {
    Auto,
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct KeyPairArgs {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, default_value = "cosign", env = "CHAINLET_OUTPUT_KEY_PREFIX")]
    pub output_key_prefix: PathBuf,
}
