//! Every `chains-config` key chainlet knows, defined once: its type, the values Chains accepts,
//! Chains' default, chainlet's default and what chainlet implements. README's config table is
//! checked against this list by a test.

/// How a key's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One of a fixed set of values.
    Enum,
    /// A comma-separated set of values; items are trimmed, duplicates collapse, and the empty
    /// string means "this artifact type is disabled", as in Chains.
    List,
    /// `true`/`false` (Go's strconv.ParseBool spellings).
    Bool,
    /// Free text (URLs, names).
    Text,
}

/// One accepted value and whether chainlet implements it.
#[derive(Debug, Clone, Copy)]
pub struct Value {
    pub name: &'static str,
    /// `None` when implemented; otherwise why not yet (shown in the error).
    pub pending: Option<&'static str>,
}

const fn ok(name: &'static str) -> Value {
    Value {
        name,
        pending: None,
    }
}

const fn later(name: &'static str, why: &'static str) -> Value {
    Value {
        name,
        pending: Some(why),
    }
}

/// A `chains-config` key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    /// Accepted values for `Enum` and `List` keys (and `Bool` values that are pending).
    pub values: &'static [Value],
    pub chains_default: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

const FORMATS: &[Value] = &[
    ok("in-toto"),
    ok("slsa/v1"),
    ok("slsa/v2alpha3"),
    ok("slsa/v2alpha4"),
    ok("tekton"),
];

const STORAGE: &[Value] = &[
    ok("tekton"),
    ok("oci"),
    ok("gcs"),
    ok("docdb"),
    ok("grafeas"),
    ok("kafka"),
    // Chains registers its Kafka backend as `pubsub` but accepts only `kafka` here, so in
    // Chains neither name reaches it; chainlet takes both.
    ok("pubsub"),
    ok("archivista"),
    ok("file"),
];

/// PipelineRun storage: Chains' config does not accept `kafka` there; chainlet does.
const PIPELINERUN_STORAGE: &[Value] = &[
    ok("tekton"),
    ok("oci"),
    ok("gcs"),
    ok("docdb"),
    ok("grafeas"),
    ok("kafka"),
    ok("pubsub"),
    ok("archivista"),
    ok("file"),
];

const SIGNERS: &[Value] = &[ok("x509"), ok("kms"), ok("none")];

const BOOL: &[Value] = &[ok("true"), ok("false")];

/// The keys, in the order README lists them.
pub const KEYS: &[Key] = &[
    Key {
        name: "artifacts.taskrun.format",
        kind: Kind::Enum,
        values: FORMATS,
        chains_default: "in-toto",
        default: "slsa/v2alpha4",
        help: "Provenance format of the TaskRun attestation. in-toto and slsa/v1 are the same \
               SLSA v0.2 format; slsa/v2alpha3 and slsa/v2alpha4 are SLSA v1.0; tekton is the \
               TaskRun status from the API, signed as it is (Chains' old format; storage tekton \
               or file only).",
    },
    Key {
        name: "artifacts.taskrun.storage",
        kind: Kind::List,
        values: STORAGE,
        chains_default: "tekton",
        // Chains' `tekton` needs a Role that lets the pod patch its TaskRun; `oci` works from
        // any pod that can push to the image's registry.
        default: "oci",
        help: "Where the TaskRun attestation is stored, comma-separated. `file` (chainlet only) \
               writes to --output-dir.",
    },
    Key {
        name: "artifacts.taskrun.signer",
        kind: Kind::Enum,
        values: SIGNERS,
        chains_default: "x509",
        default: "x509",
        help: "Signer of the TaskRun attestation: x509 uses the signing-secrets keys; none \
               disables TaskRun attestations.",
    },
    Key {
        name: "artifacts.pipelinerun.format",
        kind: Kind::Enum,
        values: FORMATS,
        chains_default: "in-toto",
        default: "slsa/v2alpha4",
        help: "Provenance format of PipelineRun attestations (chainlet attest --pipelinerun): \
               slsa/v2alpha4, slsa/v2alpha3, slsa/v1 or in-toto (tekton is refused there).",
    },
    Key {
        name: "artifacts.pipelinerun.storage",
        kind: Kind::List,
        values: PIPELINERUN_STORAGE,
        chains_default: "tekton",
        // As for TaskRuns: `tekton` needs a Role that lets the finally Task patch the
        // PipelineRun; `oci` needs only the registry.
        default: "oci",
        help: "Where PipelineRun attestations are stored (chainlet attest --pipelinerun), \
               comma-separated.",
    },
    Key {
        name: "artifacts.pipelinerun.signer",
        kind: Kind::Enum,
        values: SIGNERS,
        chains_default: "x509",
        default: "x509",
        help: "Signer of PipelineRun attestations (used when attesting a PipelineRun).",
    },
    Key {
        name: "artifacts.pipelinerun.enable-deep-inspection",
        kind: Kind::Bool,
        values: BOOL,
        chains_default: "false",
        default: "false",
        help: "Also take subjects, byproducts and inputs from the child TaskRuns' results \
               (needs the Kubernetes API).",
    },
    Key {
        name: "artifacts.oci.format",
        kind: Kind::Enum,
        values: &[ok("simplesigning")],
        chains_default: "simplesigning",
        default: "simplesigning",
        help: "Format of image signatures.",
    },
    Key {
        name: "artifacts.oci.storage",
        kind: Kind::List,
        values: STORAGE,
        chains_default: "oci",
        default: "oci",
        help: "Where image signatures are stored, comma-separated.",
    },
    Key {
        name: "artifacts.oci.signer",
        kind: Kind::Enum,
        values: SIGNERS,
        chains_default: "x509",
        default: "x509",
        help: "Signer of image signatures; none disables them.",
    },
    Key {
        name: "storage.oci.repository",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "Repository for signatures and attestations instead of the image's own.",
    },
    Key {
        name: "storage.oci.repository.insecure",
        kind: Kind::Bool,
        values: BOOL,
        chains_default: "false",
        default: "false",
        help: "Reach the registry of storage.oci.repository over plain HTTP, as Chains does.",
    },
    Key {
        name: "storage.oci.encoding-format",
        kind: Kind::Enum,
        values: &[ok("dsse"), ok("sigstore-bundle")],
        chains_default: "dsse",
        default: "dsse",
        help: "dsse: cosign's .sig/.att tags; sigstore-bundle: OCI 1.1 referrers.",
    },
    Key {
        name: "storage.gcs.bucket",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "GCS bucket for storage gcs.",
    },
    Key {
        name: "storage.docdb.url",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "go-cloud docstore URL for storage docdb, e.g. dynamodb://TABLE?partition_key=Name or firestore://projects/P/databases/(default)/documents/COLLECTION?name_field=Name.",
    },
    Key {
        name: "storage.docdb.mongo-server-url",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "MongoDB server URL for storage docdb.",
    },
    Key {
        name: "storage.docdb.mongo-server-url-dir",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "Directory holding a MONGO_SERVER_URL file.",
    },
    Key {
        name: "storage.docdb.mongo-server-url-path",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "File holding the MongoDB server URL.",
    },
    Key {
        name: "storage.grafeas.projectid",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "Grafeas project for storage grafeas.",
    },
    Key {
        name: "storage.grafeas.noteid",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "Grafeas note id prefix.",
    },
    Key {
        name: "storage.grafeas.notehint",
        kind: Kind::Text,
        values: &[],
        chains_default: "This attestation note was generated by Tekton Chains",
        default: "This attestation note was generated by Tekton Chains",
        help: "Grafeas note hint.",
    },
    Key {
        name: "storage.archivista.url",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "Archivista server for storage archivista (the DSSE envelope goes to `<url>/upload`).",
    },
    Key {
        name: "storage.pubsub.provider",
        kind: Kind::Enum,
        values: &[
            ok(""),
            later(
                "inmemory",
                "Chains' in-process memory topic loses every message when the process ends",
            ),
            ok("kafka"),
        ],
        chains_default: "",
        default: "",
        help: "Pub/Sub provider of storage kafka and pubsub (both names are one backend: \
               Chains accepts only kafka in artifacts.*.storage but registers the backend as \
               pubsub, so neither reaches it there). Empty means kafka for storage kafka.",
    },
    Key {
        name: "storage.pubsub.topic",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "Kafka topic of storage kafka; it must exist (chainlet never creates it). One \
               message per signed artifact, Chains' layout: no key, the signature as value, \
               headers payload (base64) and signature. A re-run appends again.",
    },
    Key {
        name: "storage.pubsub.kafka.bootstrap.servers",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "Kafka bootstrap servers, host:port (chainlet also takes a comma-separated \
               list; port 9092 when omitted). Plain TCP only: TLS and SASL listeners are not \
               supported yet.",
    },
    Key {
        name: "builder.id",
        kind: Kind::Text,
        values: &[],
        chains_default: "https://tekton.dev/chains/v2",
        default: "https://tekton.dev/chains/v2",
        help: "builder.id written into provenance.",
    },
    Key {
        name: "builddefinition.buildtype",
        kind: Kind::Enum,
        values: &[
            ok("https://tekton.dev/chains/v2/slsa"),
            ok("https://tekton.dev/chains/v2/slsa-tekton"),
        ],
        chains_default: "https://tekton.dev/chains/v2/slsa",
        default: "https://tekton.dev/chains/v2/slsa",
        help: "buildType of SLSA v1.0 provenance (slsa/v2alpha3, slsa/v2alpha4).",
    },
    Key {
        name: "transparency.enabled",
        kind: Kind::Enum,
        values: &[ok("false"), ok("true"), ok("manual")],
        chains_default: "false",
        default: "false",
        help: "Upload to the Rekor transparency log: true, manual (per-run opt-in) or false.",
    },
    Key {
        name: "transparency.url",
        kind: Kind::Text,
        values: &[],
        chains_default: "https://rekor.sigstore.dev",
        default: "https://rekor.sigstore.dev",
        help: "Rekor server URL.",
    },
    Key {
        name: "signers.x509.fulcio.enabled",
        kind: Kind::Bool,
        values: &[ok("false"), ok("true")],
        chains_default: "false",
        default: "false",
        help: "Sign with a short-lived Fulcio certificate instead of signing-secrets keys.",
    },
    Key {
        name: "signers.x509.fulcio.address",
        kind: Kind::Text,
        values: &[],
        chains_default: "https://fulcio.sigstore.dev",
        default: "https://fulcio.sigstore.dev",
        help: "Fulcio server URL.",
    },
    Key {
        name: "signers.x509.fulcio.issuer",
        kind: Kind::Text,
        values: &[],
        chains_default: "https://oauth2.sigstore.dev/auth",
        default: "https://oauth2.sigstore.dev/auth",
        help: "OIDC issuer for Fulcio.",
    },
    Key {
        name: "signers.x509.fulcio.provider",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "OIDC token provider for Fulcio.",
    },
    Key {
        name: "signers.x509.identity.token.file",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "File holding the OIDC identity token for Fulcio.",
    },
    Key {
        name: "signers.x509.tuf.mirror.url",
        kind: Kind::Text,
        values: &[],
        chains_default: "https://tuf-repo-cdn.sigstore.dev",
        default: "https://tuf-repo-cdn.sigstore.dev",
        help: "TUF mirror for Sigstore trust roots.",
    },
    Key {
        name: "signers.kms.kmsref",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "KMS key reference (gcpkms://, awskms://, azurekms://, hashivault://).",
    },
    Key {
        name: "signers.kms.auth.address",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "Vault address for hashivault://.",
    },
    Key {
        name: "signers.kms.auth.token",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "Vault token.",
    },
    Key {
        name: "signers.kms.auth.token-path",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "File holding the Vault token.",
    },
    Key {
        name: "signers.kms.auth.oidc.path",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "Vault JWT auth path.",
    },
    Key {
        name: "signers.kms.auth.oidc.role",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "Vault JWT auth role.",
    },
    Key {
        name: "signers.kms.auth.oidc.token-path",
        kind: Kind::Text,
        values: &[],
        chains_default: "/var/run/secrets/kubernetes.io/serviceaccount/token",
        default: "/var/run/secrets/kubernetes.io/serviceaccount/token",
        help: "File holding the OIDC token for Vault JWT auth.",
    },
    Key {
        name: "signers.kms.auth.spire.sock",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "SPIRE agent socket for a JWT-SVID.",
    },
    Key {
        name: "signers.kms.auth.spire.audience",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "Audience of the SPIRE JWT-SVID.",
    },
    Key {
        name: "filter.managed-by",
        kind: Kind::Text,
        values: &[],
        chains_default: "",
        default: "",
        help: "Controller-side run filter; has no effect in a pod (the step runs where it is put).",
    },
];

/// Keys whose values can carry credentials; `--print-config` never shows them.
pub fn is_secret(name: &str) -> bool {
    matches!(
        name,
        "signers.kms.auth.token" | "storage.docdb.url" | "storage.docdb.mongo-server-url"
    ) || name.starts_with("storage.pubsub.kafka.")
}

/// Looks a key up by name.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// What chainlet does with a key today, for README's table.
fn status(key: &Key) -> String {
    let pending: Vec<&str> = key
        .values
        .iter()
        .filter(|v| v.pending.is_some())
        .map(|v| v.name)
        .collect();
    let by_prefix = |prefix: &str| key.name.starts_with(prefix);
    if !pending.is_empty() {
        let working: Vec<&str> = key
            .values
            .iter()
            .filter(|v| v.pending.is_none())
            .map(|v| v.name)
            .collect();
        return if working.len() == 1 {
            format!("only `{}`; not yet: {}", working[0], pending.join(", "))
        } else {
            format!("yes, but not yet: {}", pending.join(", "))
        };
    }
    // `storage.<backend>.…` keys work when their backend does (`storage.pubsub.…`: kafka).
    let backend_ready = key
        .name
        .strip_prefix("storage.")
        .and_then(|rest| rest.split('.').next())
        .map(|b| if b == "pubsub" { "kafka" } else { b })
        .and_then(|b| STORAGE.iter().find(|v| v.name == b))
        .is_some_and(|v| v.pending.is_none());
    let family = if backend_ready && !by_prefix("storage.docdb.") {
        "yes"
    } else if key.name == "storage.docdb.url" {
        "`dynamodb://`, `firestore://` yes; not yet: `mongo://` (no MongoDB server to test against)"
    } else if by_prefix("storage.docdb.mongo-") {
        "read; `mongo://` is not supported yet"
    } else if by_prefix("storage.") {
        "read; its backend is not in chainlet"
    } else if key.name == "transparency.url" {
        "yes (Rekor v1 and v2)"
    } else if key.name == "signers.x509.tuf.mirror.url" {
        "read; no TUF client yet: pass a trusted root with --trusted-root"
    } else if key.name == "signers.x509.fulcio.issuer" {
        "read; unused in a pod (for interactive logins; Fulcio checks the token's issuer)"
    } else if key.name == "signers.x509.fulcio.provider" {
        "yes: filesystem, filesystem-custom-path, envvar; not yet: spiffe"
    } else if by_prefix("signers.kms.auth.spire.") {
        "read; not supported yet (no SPIRE agent client)"
    } else if key.name == "signers.kms.kmsref" {
        KMS_SCHEMES
    } else if by_prefix("signers.x509.") || by_prefix("signers.kms.") {
        "yes"
    } else if key.name == "filter.managed-by" {
        "read; no effect in a pod"
    } else {
        "yes"
    };
    family.into()
}

/// What `signers.kms.kmsref` takes, for README's table.
const KMS_SCHEMES: &str = "yes: hashivault://, openbao://, awskms://, gcpkms://, azurekms://";

/// README's config table, generated from [`KEYS`]; a test keeps README in step.
pub fn readme_table() -> String {
    let cell = |s: &str| {
        if s.is_empty() {
            "\"\"".to_owned()
        } else {
            format!("`{s}`")
        }
    };
    let mut out = String::from(
        "| key | meaning | accepted values | chainlet default | Chains default | implemented |\n\
         |---|---|---|---|---|---|\n",
    );
    for key in KEYS {
        let accepted = match key.kind {
            Kind::Text => "text".to_owned(),
            Kind::Bool => "`true`, `false`".to_owned(),
            Kind::Enum | Kind::List => {
                let list = key
                    .values
                    .iter()
                    .map(|v| cell(v.name))
                    .collect::<Vec<_>>()
                    .join(", ");
                if key.kind == Kind::List {
                    format!("comma-separated: {list}")
                } else {
                    list
                }
            }
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            key.name,
            key.help,
            accepted,
            cell(key.default),
            cell(key.chains_default),
            status(key)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn readme_config_table_is_generated_from_the_keys() {
        let readme = include_str!("../../README.md");
        let table = super::readme_table();
        assert!(
            readme.contains(&table),
            "README's config table is out of date; replace it with:\n\n{table}"
        );
    }
}
