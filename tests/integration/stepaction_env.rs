//! What the StepAction hands chainlet: every param becomes an environment variable, and a param
//! left at its empty default must read as "not given" (not as an empty value), so that the
//! chains-config ConfigMap keeps its say.

use crate::common::*;
use serde_json::Value;

fn predicate_type(pod: &Pod) -> String {
    let text =
        std::fs::read_to_string(pod.path(&format!("out/taskrun-{UID}/statement.json"))).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["predicateType"].as_str().unwrap().to_owned()
}

fn run(pod: &Pod, overrides: &str) -> std::process::Output {
    let results = pod.s("results");
    let secrets = pod.s("secrets");
    let config = pod.s("config");
    let out = pod.s("out");
    chainlet_env(
        &["attest"],
        &[
            ("CHAINLET_RESULTS_DIR", &results),
            ("CHAINLET_SIGNING_SECRETS", &secrets),
            ("CHAINLET_CONFIG_DIR", &config),
            ("CHAINLET_OUTPUT_DIR", &out),
            ("CHAINLET_TASKRUN_NAME", "build-run"),
            ("CHAINLET_TASKRUN_UID", UID),
            // Params left empty, as Tekton passes them.
            ("CHAINLET_TASKRUN_API", ""),
            ("CHAINLET_STARTED_ON", ""),
            ("CHAINLET_REGISTRY_CA", ""),
            ("CHAINLET_PARAMS", ""),
            ("CHAINLET_INSECURE_REGISTRIES", "\n"),
            ("CHAINLET_WRITE_RESULTS", ""),
            ("CHAINLET_OVERRIDES", overrides),
            (
                "CHAINLET_SET",
                "artifacts.taskrun.storage=file\n\nartifacts.oci.storage=file\n",
            ),
        ],
    )
}

#[test]
fn empty_params_are_not_given_and_the_configmap_keeps_its_value() {
    let pod = Pod::new();
    pod.typical_results().chainlet_key("test");
    std::fs::create_dir_all(pod.path("config")).unwrap();
    std::fs::write(pod.path("config/artifacts.taskrun.format"), "slsa/v1\n").unwrap();

    // The param is empty: the ConfigMap's slsa/v1 stands.
    ok(&run(
        &pod,
        "artifacts.taskrun.format=\nstorage.oci.repository=\n",
    ));
    assert_eq!(predicate_type(&pod), "https://slsa.dev/provenance/v0.2");

    // The param has a value: it wins over the ConfigMap.
    std::fs::remove_dir_all(pod.path("out")).unwrap();
    ok(&run(&pod, "artifacts.taskrun.format=slsa/v2alpha4\n"));
    assert_eq!(predicate_type(&pod), "https://slsa.dev/provenance/v1");
}

#[test]
fn a_malformed_override_names_its_flag() {
    let pod = Pod::new();
    pod.typical_results().chainlet_key("test");
    std::fs::create_dir_all(pod.path("config")).unwrap();
    let out = run(&pod, "artifacts.taskrun.format\n");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("--override \"artifacts.taskrun.format\": expected KEY=VALUE"),
        "{err}"
    );
    assert!(!pod.path("out").exists());
}
