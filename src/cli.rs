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
    /// Verify what was stored for images (or local files): signatures, attestations, and a
    /// policy over the attested provenance. Exit 0 only when everything verified.
    #[command(after_help = VERIFY_EXAMPLES, args_override_self = true)]
    Verify(Box<VerifyArgs>),
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
    /// payload), subjects (JSON array of name@alg:hex), images (JSON array of the signed or
    /// attested repo@sha256:hex; lists hold at most 2 KiB of whole entries, Tekton's result
    /// size limit), log-index or log-uuid (the
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

const VERIFY_EXAMPLES: &str = "\
Examples:
  # The attestation chainlet attest stored next to an image, checked with the public key of
  # the signing-secrets Secret (cosign.pub); the digest is required:
  chainlet verify --key cosign.pub registry.example.com/team/app@sha256:<hex>

  # Gate the next task: SLSA v1 provenance from Tekton Chains' builder, at most a day old,
  # built from the expected repository, and a signed image too:
  chainlet verify --key cosign.pub --predicate-type slsaprovenance1 \\
      --builder-id https://tekton.dev/chains/v2 --max-age 24h \\
      --param url=https://github.com/example/app \\
      --allow-material git+https://github.com/example/ --allow-material oci:// \\
      --require-signature $(params.IMAGE)

  # The same checks from a policy file (YAML or JSON, see README), and a JSON report:
  chainlet verify --key cosign.pub --policy policy.yaml --output json IMAGE@sha256:<hex>

  # Keyless (Fulcio certificates), against a Sigstore trusted root:
  chainlet verify --certificate-identity https://github.com/org/repo/.github/workflows/b.yml@refs/heads/main \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com \\
      --trusted-root trusted_root.json IMAGE@sha256:<hex>

  # Local files: a Sigstore bundle and the file it is for, or chainlet attest's --output-dir:
  chainlet verify --key cosign.pub --bundle out/taskrun-<uid>/bundle.sigstore.json app.tar
  chainlet verify --key cosign.pub --dir out IMAGE@sha256:<hex>

An image verifies when at least one attestation (of --predicate-type, when given) has a
trusted signature, names the image's digest as a subject and passes every check; with
--require-signature an image signature must verify too. Exit codes: 0 verified; 1 not
verified (one line per reason on stderr); 2 bad usage (no --key and no identity, an identity
without --trusted-root, a bad policy file or duration). An empty CHAINLET_* variable counts as
unset; list variables take one value per line.";

/// How `chainlet verify` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyOutput {
    /// One line per image on stdout, reasons on stderr.
    Human,
    /// One JSON document on stdout.
    Json,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Images to verify, by digest: REGISTRY/REPOSITORY@sha256:<hex> (a tag may stand before
    /// the digest; it is ignored). In the environment, one per line.
    #[arg(
        value_name = "IMAGE@sha256:HEX",
        env = "CHAINLET_VERIFY_IMAGES",
        value_delimiter = '\n'
    )]
    pub images: Vec<String>,
    /// A PEM public key (cosign.pub, or the public half of x509.pem): signatures must verify
    /// with it.
    #[arg(long, value_name = "FILE", env = "CHAINLET_VERIFY_KEY")]
    pub key: Option<PathBuf>,
    /// Keyless: the signing certificate's identity (its subject alternative name), exactly.
    #[arg(
        long,
        value_name = "IDENTITY",
        env = "CHAINLET_VERIFY_CERTIFICATE_IDENTITY",
        conflicts_with = "certificate_identity_regexp"
    )]
    pub certificate_identity: Option<String>,
    /// Keyless: a regular expression the certificate's identity must match.
    #[arg(
        long,
        value_name = "REGEXP",
        env = "CHAINLET_VERIFY_CERTIFICATE_IDENTITY_REGEXP"
    )]
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: the certificate's OIDC issuer, exactly.
    #[arg(
        long,
        value_name = "ISSUER",
        env = "CHAINLET_VERIFY_CERTIFICATE_OIDC_ISSUER",
        conflicts_with = "certificate_oidc_issuer_regexp"
    )]
    pub certificate_oidc_issuer: Option<String>,
    /// Keyless: a regular expression the certificate's OIDC issuer must match.
    #[arg(
        long,
        value_name = "REGEXP",
        env = "CHAINLET_VERIFY_CERTIFICATE_OIDC_ISSUER_REGEXP"
    )]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// A Sigstore trusted root (JSON, as cosign's --trusted-root): Fulcio CAs, logs and
    /// timestamp authorities. Required with a certificate identity.
    #[arg(long, value_name = "FILE", env = "CHAINLET_TRUSTED_ROOT")]
    pub trusted_root: Option<PathBuf>,
    /// Do not look at transparency log entries (as cosign's flag).
    #[arg(
        long,
        env = "CHAINLET_VERIFY_INSECURE_IGNORE_TLOG",
        conflicts_with = "require_tlog"
    )]
    pub insecure_ignore_tlog: bool,
    /// A verified transparency log entry must be there. Without this or
    /// --insecure-ignore-tlog, an entry is checked when one is stored.
    #[arg(long, env = "CHAINLET_VERIFY_REQUIRE_TLOG")]
    pub require_tlog: bool,
    /// A verified RFC 3161 timestamp must be there.
    #[arg(long, env = "CHAINLET_VERIFY_REQUIRE_TIMESTAMP")]
    pub require_timestamp: bool,
    /// Only attestations of this predicate type count: a URI, or cosign's short names
    /// slsaprovenance (= slsaprovenance02, SLSA v0.2) and slsaprovenance1 (SLSA v1).
    #[arg(
        long = "predicate-type",
        alias = "type",
        value_name = "URI",
        env = "CHAINLET_VERIFY_PREDICATE_TYPE"
    )]
    pub predicate_type: Option<String>,
    /// An allowed builder id (SLSA builder.id / runDetails.builder.id). Repeatable; in the
    /// environment, one per line.
    #[arg(
        long = "builder-id",
        value_name = "ID",
        env = "CHAINLET_VERIFY_BUILDER_IDS",
        value_delimiter = '\n'
    )]
    pub builder_ids: Vec<String>,
    /// An allowed buildType. Repeatable; in the environment, one per line.
    #[arg(
        long = "build-type",
        value_name = "URI",
        env = "CHAINLET_VERIFY_BUILD_TYPES",
        value_delimiter = '\n'
    )]
    pub build_types: Vec<String>,
    /// The attestation may be at most this old (30m, 24h, 7d, 1h30m): its log entry's or
    /// timestamp's time when one was checked, else the provenance's finish time.
    #[arg(long, value_name = "DURATION", env = "CHAINLET_VERIFY_MAX_AGE")]
    pub max_age: Option<String>,
    /// A build parameter that must have exactly this value (SLSA v0.2
    /// invocation.parameters; v1 externalParameters, Chains' runSpec.params, or
    /// internalParameters). Repeatable; in the environment, one per line.
    #[arg(
        long = "param",
        value_name = "NAME=VALUE",
        env = "CHAINLET_VERIFY_PARAMS",
        value_delimiter = '\n'
    )]
    pub params: Vec<String>,
    /// Every material (v1: resolved dependency) uri must start with one of these prefixes.
    /// Repeatable; in the environment, one per line.
    #[arg(
        long = "allow-material",
        value_name = "PREFIX",
        env = "CHAINLET_VERIFY_ALLOW_MATERIALS",
        value_delimiter = '\n'
    )]
    pub allow_materials: Vec<String>,
    /// Some material uri must start with this prefix. Repeatable (each must be met); in the
    /// environment, one per line.
    #[arg(
        long = "require-material",
        value_name = "PREFIX",
        env = "CHAINLET_VERIFY_REQUIRE_MATERIALS",
        value_delimiter = '\n'
    )]
    pub require_materials: Vec<String>,
    /// A policy file (YAML or JSON) with the same checks; it and the flags must both pass.
    #[arg(long, value_name = "FILE", env = "CHAINLET_VERIFY_POLICY")]
    pub policy: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = VerifyOutput::Human, env = "CHAINLET_VERIFY_OUTPUT")]
    pub output: VerifyOutput,
    /// Also require a verified image signature (the .sig tag, or a signature bundle), not only
    /// an attestation.
    #[arg(long, env = "CHAINLET_VERIFY_REQUIRE_SIGNATURE")]
    pub require_signature: bool,
    /// Local: a Sigstore bundle and the artifact it is for (a file, or IMAGE@sha256:<hex>).
    /// Repeatable; in the environment, FILE and ARTIFACT on two lines.
    #[arg(
        long,
        num_args = 2,
        value_names = ["FILE", "ARTIFACT"],
        env = "CHAINLET_VERIFY_BUNDLE",
        value_delimiter = '\n'
    )]
    pub bundle: Vec<String>,
    /// Local: chainlet attest's --output-dir. The images given are looked up there instead of
    /// in their registry; without images, every attestation in it is verified.
    #[arg(long, value_name = "DIR", env = "CHAINLET_VERIFY_DIR")]
    pub dir: Option<PathBuf>,
    /// Reach this registry (host or host:port) over plain HTTP. Repeatable; in the environment,
    /// one per line.
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
    /// Registry credentials: a directory with config.json or .dockerconfigjson. Default:
    /// $DOCKER_CONFIG, then ~/.docker.
    #[arg(long, value_name = "DIR", env = "CHAINLET_DOCKER_CONFIG")]
    pub docker_config: Option<PathBuf>,
    /// Seconds all registry work may take, retries included.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 120,
        env = "CHAINLET_REGISTRY_TIMEOUT"
    )]
    pub registry_timeout: u64,
}
