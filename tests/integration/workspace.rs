//! Workspace subjects: a build that writes more than its results can name (an OCI layout of
//! images, hundreds of files) gets one attestation naming all of it, stored next to every
//! image in a real registry and verified by the real cosign; links that leave the workspace
//! are refused before anything is stored.

use std::path::Path;

use sha2::Digest as _;

use crate::common::registry::{Registry, layers, plain_client, push_image};
use crate::common::*;

fn hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn subjects(pod: &Pod) -> Vec<(String, String)> {
    pod.statement()["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let (alg, d) = s["digest"].as_object().unwrap().iter().next().unwrap();
            (
                s["name"].as_str().unwrap().to_owned(),
                format!("{alg}:{}", d.as_str().unwrap()),
            )
        })
        .collect()
}

fn cosign_verifies(pubkey: &Path, image: &str, what: &[&str]) {
    let key = pubkey.to_str().unwrap();
    let mut args = what.to_vec();
    args.extend([
        "--key",
        key,
        "--insecure-ignore-tlog",
        "--allow-http-registry",
        image,
    ]);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let (ok, text) = cosign_run(&args, &[]);
    assert!(ok, "cosign {what:?} {image}:\n{text}");
}

/// Writes an OCI layout holding the manifests (bytes as pushed) with these ref.name annotations.
fn write_layout(dir: &Path, manifests: &[(Vec<u8>, &str)]) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut entries = Vec::new();
    for (bytes, name) in manifests {
        let h = hex(bytes);
        std::fs::write(dir.join("blobs/sha256").join(&h), bytes).unwrap();
        entries.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{h}"),
            "size": bytes.len(),
            "annotations": {"org.opencontainers.image.ref.name": name},
        }));
    }
    let index = serde_json::json!({"schemaVersion": 2, "manifests": entries});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
}

fn manifest_bytes(addr: &str, repo: &str) -> Vec<u8> {
    let r = chainlet::registry::Repo {
        registry: addr.to_owned(),
        repository: repo.to_owned(),
    };
    plain_client(addr)
        .get_manifest(&r, "latest")
        .unwrap()
        .unwrap()
        .bytes
}

#[test]
fn one_attestation_names_a_layouts_three_images_and_500_files_and_sits_next_to_each_image() {
    let reg = Registry::plain();
    let pod = Pod::new();
    pod.chainlet_key("test");
    let ws = pod.path("ws");
    // Three images really in the registry, and the same manifests in the build's OCI layout:
    // two named by full references, one only by a tag (its repository comes from the flag).
    let repos = ["team/a", "team/b", "team/c"];
    let hexes: Vec<String> = repos.iter().map(|r| push_image(&reg.addr, r)).collect();
    let addr = &reg.addr;
    let manifests: Vec<Vec<u8>> = repos.iter().map(|r| manifest_bytes(addr, r)).collect();
    for (m, h) in manifests.iter().zip(&hexes) {
        assert_eq!(&hex(m), h);
    }
    write_layout(
        &ws.join("layout"),
        &[
            (manifests[0].clone(), &format!("{addr}/team/a:latest")),
            (manifests[1].clone(), &format!("{addr}/team/b:v1")),
            (manifests[2].clone(), "v1"),
        ],
    );
    let mut files = Vec::new();
    for i in 0..500 {
        let rel = format!("dist/{}/file-{i:03}.bin", i % 7);
        let body = format!("artifact {i}\n").repeat(i + 1);
        let p = ws.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &body).unwrap();
        files.push((rel, format!("sha256:{}", hex(body.as_bytes()))));
    }
    // Not matched: hidden and other names.
    std::fs::write(ws.join("dist/.cache"), "x").unwrap();
    std::fs::write(ws.join("dist/notes.txt"), "x").unwrap();

    let out = Attest::new(&pod)
        .taskrun("build-run", UID)
        .flag("--insecure-registry", addr)
        .storage_oci()
        .out()
        .times()
        .flag("--workspace", &ws)
        .flag(
            "--oci-layout",
            format!("{}={addr}/team/c", ws.join("layout").display()),
        )
        .flag("--hash", format!("{}/dist/**/*.bin", ws.display()))
        .flag(
            "--write-result",
            format!("subjects={}", pod.s("subjects.json")),
        )
        .flag("--write-result", format!("images={}", pod.s("images.json")))
        .run();
    ok(&out);

    // The step results stay within Tekton's result size: whole entries, a warning for the rest;
    // the images result names the three images, as chainlet verify takes them.
    let listed = std::fs::read_to_string(pod.path("subjects.json")).unwrap();
    assert!(listed.len() <= 2048, "{} bytes", listed.len());
    let listed: Vec<String> = serde_json::from_str(&listed).unwrap();
    assert!(!listed.is_empty() && listed.len() < 503, "{}", listed.len());
    assert!(stderr(&out).contains(&format!("{} of 503 entries left out", 503 - listed.len())));
    let images: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(pod.path("images.json")).unwrap()).unwrap();
    let want_images: Vec<String> = repos
        .iter()
        .zip(&hexes)
        .map(|(r, h)| format!("{addr}/{r}@sha256:{h}"))
        .collect();
    assert_eq!(images, want_images);
    let key = pod.s("secrets/cosign.pub");
    let mut args = vec!["verify", "--key", &key, "--insecure-registry", addr];
    args.extend(images.iter().map(String::as_str));
    let gate = chainlet(&args);
    assert!(gate.status.success(), "chainlet verify:\n{}", stderr(&gate));

    let got = subjects(&pod);
    let mut want: Vec<(String, String)> = repos
        .iter()
        .zip(&hexes)
        .map(|(r, h)| (format!("{addr}/{r}"), format!("sha256:{h}")))
        .collect();
    files.sort();
    want.extend(files);
    assert_eq!(got.len(), 503);
    assert_eq!(got, want);

    // One attestation, and it verifies next to each of the three images; each is signed.
    let pubkey = pod.path("secrets/cosign.pub");
    for (r, h) in repos.iter().zip(&hexes) {
        let image = format!("{addr}/{r}@sha256:{h}");
        cosign_verifies(&pubkey, &image, &["verify"]);
        cosign_verifies(
            &pubkey,
            &image,
            &["verify-attestation", "--type", "slsaprovenance1"],
        );
        assert_eq!(layers(addr, r, &format!("sha256-{h}.att")).len(), 1);
    }
    // No file was taken for an image: nothing went anywhere but the three repositories.
    assert!(
        !stderr(&out).contains("index.docker.io"),
        "{}",
        stderr(&out)
    );
}

/// Asserts a refused run: exit 1, one line naming `names`, nothing in `out/`, and the
/// registry without a signature or attestation for the hinted image.
fn refused(pod: &Pod, out: &std::process::Output, names: &[&str], reg: &Registry, h: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    for n in names {
        assert!(err.contains(n), "error should name {n:?}: {err}");
    }
    assert!(!pod.path("out").exists(), "nothing may be written");
    for tag in [format!("sha256-{h}.sig"), format!("sha256-{h}.att")] {
        assert!(
            layers(&reg.addr, "team/app", &tag).is_empty(),
            "{tag} stored"
        );
    }
}

#[test]
fn links_from_the_workspace_to_the_secrets_or_etc_are_refused_and_nothing_is_stored() {
    let reg = Registry::plain();
    let h = push_image(&reg.addr, "team/app");
    let pod = Pod::new();
    pod.chainlet_key("test")
        .result("IMAGE_URL", &format!("{}/team/app", reg.addr))
        .result("IMAGE_DIGEST", &format!("sha256:{h}"));
    let ws = pod.path("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("app.tgz"), "app").unwrap();
    let link =
        |target: &Path, name: &str| std::os::unix::fs::symlink(target, ws.join(name)).unwrap();
    link(&pod.path("secrets/cosign.password"), "password");
    link(&pod.path("secrets"), "secrets-dir");
    link(Path::new("/etc/passwd"), "passwd");
    link(Path::new("/etc"), "etc");
    link(&pod.path("results"), "outside");
    let attest = |flag: &str, value: String| {
        Attest::new(&pod)
            .taskrun("build-run", UID)
            .flag("--insecure-registry", &reg.addr)
            .storage_oci()
            .out()
            .times()
            .flag("--workspace", &ws)
            .flag(flag, value)
            .run()
    };
    let w = ws.display();
    let secrets = std::fs::canonicalize(pod.path("secrets")).unwrap();
    let secrets = secrets.to_str().unwrap();
    for (flag, value, names) in [
        (
            "--hash",
            format!("{w}/password"),
            vec!["/password", secrets],
        ),
        // In name order the link to /etc comes first.
        ("--hash", format!("{w}/*"), vec!["ws/etc:", "leads to /etc"]),
        ("--hash", format!("{w}/p*"), vec!["/passwd", "/etc"]),
        ("--hash", format!("{w}/etc/hostname"), vec!["/etc"]),
        (
            "--digest-file",
            format!("{w}/passwd=x.io/a"),
            vec!["/passwd", "/etc"],
        ),
        (
            "--digest-file",
            format!("{w}/secrets-dir/cosign.password=x.io/a"),
            vec!["cosign.password", secrets],
        ),
        (
            "--oci-layout",
            format!("{w}/secrets-dir"),
            vec!["secrets-dir", secrets],
        ),
        (
            "--hash",
            format!("{w}/outside/IMAGE_URL"),
            vec!["outside the workspace"],
        ),
    ] {
        let out = attest(flag, value.clone());
        refused(&pod, &out, &names, &reg, &h);
        assert!(!stderr(&out).contains("test\n"), "{flag} {value}");
    }
    // A workspace root that takes in the secrets is refused outright.
    let out = Attest::new(&pod)
        .taskrun("build-run", UID)
        .storage_oci()
        .out()
        .flag("--workspace", pod.path(""))
        .flag("--hash", pod.path("ws/app.tgz"))
        .run();
    refused(&pod, &out, &["never reads"], &reg, &h);
    // The same run without the escapes stores.
    ok(&attest("--hash", format!("{w}/app.tgz")));
    assert_eq!(
        layers(&reg.addr, "team/app", &format!("sha256-{h}.att")).len(),
        1
    );
}

#[test]
fn each_digest_file_kind_is_read_and_hinted_images_are_not_repeated() {
    let pod = Pod::new();
    pod.chainlet_key("test")
        .result("IMAGE_URL", "reg.example/team/app:v1")
        .result("IMAGE_DIGEST", &format!("sha256:{DIGEST_A}"));
    let ws = pod.path("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let write = |name: &str, text: String| std::fs::write(ws.join(name), text).unwrap();
    // buildah --digestfile / kaniko --digest-file: the hinted image again.
    write("buildah.digest", format!("sha256:{DIGEST_A}\n"));
    // kaniko --image-name-with-digest-file.
    write(
        "kaniko.refs",
        format!("reg.example/team/k:v1@sha256:{DIGEST_B}\n"),
    );
    // ko build --image-refs.
    write(
        "ko.refs",
        format!("reg.example/ko/a@sha256:{DIGEST_C}\nreg.example/ko/b@sha256:{DIGEST_B}\n"),
    );
    // docker buildx build --metadata-file.
    write(
        "buildx.json",
        format!(
            r#"{{"buildx.build.ref":"builder/builder0/x","containerimage.descriptor":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{DIGEST_C}","size":1}},"containerimage.digest":"sha256:{DIGEST_C}","image.name":"reg.example/bx/x:v1,reg.example/bx/y"}}"#
        ),
    );
    let want = [
        ("reg.example/team/app", DIGEST_A),
        ("reg.example/bx/x", DIGEST_C),
        ("reg.example/bx/y", DIGEST_C),
        ("reg.example/ko/a", DIGEST_C),
        ("reg.example/ko/b", DIGEST_B),
        ("reg.example/team/k", DIGEST_B),
    ];
    for format in ["slsa/v1", "slsa/v2alpha3", "slsa/v2alpha4"] {
        let _ = std::fs::remove_dir_all(pod.path("out"));
        ok(&Attest::offline(&pod)
            .format("taskrun", format)
            .flag("--workspace", &ws)
            .env(
                "CHAINLET_DIGEST_FILES",
                &format!(
                    "{w}/buildah.digest=reg.example/team/app\n{w}/kaniko.refs\n\n{w}/ko.refs\n{w}/buildx.json\n",
                    w = ws.display()
                ),
            )
            .run());
        let got = subjects(&pod);
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(n, d)| (n.to_string(), format!("sha256:{d}")))
            .collect();
        assert_eq!(got, want, "{format}");
        // Every image is signed (storage file writes one folder per image).
        let signed: Vec<String> = pod
            .written()
            .into_iter()
            .filter(|f| f.ends_with("/signature"))
            .collect();
        assert_eq!(signed.len(), want.len(), "{signed:?}");
    }

    // A bare digest needs its name; a file that names its images refuses another.
    for (flag, problem) in [
        (format!("{}/buildah.digest", ws.display()), "PATH=IMAGE"),
        (
            format!("{}/ko.refs=reg.example/x", ws.display()),
            "names its images itself",
        ),
    ] {
        let _ = std::fs::remove_dir_all(pod.path("out"));
        let out = Attest::offline(&pod)
            .flag("--workspace", &ws)
            .flag("--digest-file", &flag)
            .run();
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains(problem) && err.contains(&flag[..flag.find('=').unwrap_or(flag.len())]),
            "{err}"
        );
        assert!(!pod.path("out").exists());
    }
}

#[test]
fn hashed_files_take_a_prefix_and_sha512_and_a_miss_fails_the_run() {
    let pod = Pod::new();
    pod.chainlet_key("test");
    let ws = pod.path("ws");
    std::fs::create_dir_all(ws.join("out")).unwrap();
    std::fs::write(ws.join("out/app-1.0.tgz"), "tarball").unwrap();
    // Relative patterns are the working directory's; names stay relative to the workspace.
    ok(&Attest::offline(&pod)
        .in_dir(&ws)
        .flag("--workspace", &ws)
        .flag("--hash", "out/*.tgz=pkg:generic/")
        .flag("--hash-algorithm", "sha512")
        .run());
    let st = pod.statement();
    let s = &st["subject"][0];
    assert_eq!(s["name"], "pkg:generic/out/app-1.0.tgz");
    let want: String = sha2::Sha512::digest(b"tarball")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(s["digest"]["sha512"], want);

    std::fs::remove_dir_all(pod.path("out")).unwrap();
    let out = Attest::offline(&pod)
        .flag("--workspace", &ws)
        .flag("--hash", format!("{}/out/*.zip", ws.display()))
        .run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("matches no file"), "{}", stderr(&out));
    // Without --workspace, paths must be under /workspace.
    let out = Attest::offline(&pod)
        .flag("--hash", format!("{}/out/app-1.0.tgz", ws.display()))
        .run();
    assert_ne!(out.status.code(), Some(0));
    assert!(!pod.path("out").exists());
    // A malformed prefix is bad usage.
    let out = Attest::offline(&pod)
        .flag("--workspace", &ws)
        .flag("--hash", "x=not a uri")
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn the_stepaction_passes_workspace_params_through_its_env() {
    let pod = Pod::new();
    pod.chainlet_key("test");
    let ws = pod.path("ws");
    std::fs::create_dir_all(ws.join("dist")).unwrap();
    std::fs::write(ws.join("dist/a.bin"), "a").unwrap();
    std::fs::write(ws.join("dist/b.bin"), "b").unwrap();
    std::fs::write(ws.join("image.digest"), format!("sha256:{DIGEST_A}")).unwrap();
    let doc = yaml_to_json(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tasks/stepaction-chainlet-attest.yaml"),
        )
        .unwrap(),
    );
    let spec = &doc["spec"];
    let w = ws.display();
    let given = [
        ("workspaces", format!("{w}")),
        ("digest-files", format!("{w}/image.digest=reg.example/app")),
        ("hash", format!("{w}/dist/a.bin\n{w}/dist/b.bin")),
    ];
    let mut vars = std::collections::BTreeMap::new();
    for p in spec["params"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let value = given
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| p["default"].as_str().map(str::to_owned))
            .unwrap_or_default();
        vars.insert(format!("$(params.{name})"), value);
    }
    for (name, _) in &given {
        assert!(
            vars.contains_key(&format!("$(params.{name})")),
            "param {name}"
        );
    }
    let mut env: Vec<(String, String)> = Vec::new();
    for e in spec["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        if !name.starts_with("CHAINLET_")
            || name == "CHAINLET_WRITE_RESULTS"
            || name.ends_with("_DIR")
            || name == "CHAINLET_SIGNING_SECRETS"
        {
            continue;
        }
        let mut value = e["value"].as_str().unwrap().to_owned();
        for (k, v) in &vars {
            value = value.replace(k, v);
        }
        if value.contains("$(params.") {
            panic!("{name}: unsubstituted {value}");
        }
        env.push((name.to_owned(), value));
    }
    for want in [
        "CHAINLET_WORKSPACES",
        "CHAINLET_DIGEST_FILES",
        "CHAINLET_HASH",
        "CHAINLET_HASH_ALGORITHM",
        "CHAINLET_OCI_LAYOUTS",
    ] {
        assert!(
            env.iter().any(|(k, _)| k == want),
            "{want} not set by the StepAction"
        );
    }
    let mut attest = Attest::offline(&pod);
    for (k, v) in &env {
        if !v.contains("$(context.") {
            attest = attest.env(k, v);
        }
    }
    ok(&attest.run());
    let names: Vec<String> = subjects(&pod).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["reg.example/app", "dist/a.bin", "dist/b.bin"]);
}
