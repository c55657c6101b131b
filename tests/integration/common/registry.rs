//! A real registry for tests: Debian's `docker-registry` (CNCF distribution) on 127.0.0.1,
//! started by the test and stopped when dropped; plus a helper that pushes a small image.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    pub addr: String,
    child: Child,
    /// The registry's config, storage and log; removed when the registry is dropped.
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn registry_binary() -> PathBuf {
    let p = PathBuf::from(
        std::env::var("CHAINLET_REGISTRY").unwrap_or("/usr/bin/docker-registry".into()),
    );
    assert!(
        p.is_file(),
        "docker-registry not found at {}: run .ci/run",
        p.display()
    );
    p
}

impl Registry {
    /// Where the registry keeps its blobs and manifests (filesystem storage): for tests that
    /// change what it serves behind its back.
    pub fn storage_dir(&self) -> PathBuf {
        self._dir.path().join("data")
    }

    /// A plain-HTTP registry.
    pub fn plain() -> Self {
        Self::start("")
    }

    /// A registry with `extra` YAML added under `http:` / at top level, e.g. TLS or auth.
    pub fn start(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: {addr}\n  secret: chainlet-tests\n{extra}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(registry_binary())
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .expect("docker-registry starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not start: {}",
                std::fs::read_to_string(dir.path().join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            addr,
            child,
            _dir: dir,
        }
    }
}

/// Pushes a one-layer image with random content to `registry/repo` over plain HTTP; returns
/// its manifest digest's hex.
pub fn push_image(addr: &str, repo: &str) -> String {
    push_image_with(&plain_client(addr), addr, repo)
}

/// The same with a client set up for the registry (TLS, credentials).
pub fn push_image_with(client: &chainlet::registry::Client, addr: &str, repo: &str) -> String {
    let r = chainlet::registry::Repo {
        registry: addr.to_owned(),
        repository: repo.to_owned(),
    };
    let mut noise = [0u8; 16];
    getrandom_fill(&mut noise);
    let layer = format!("layer {noise:?}").into_bytes();
    let config = b"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}".to_vec();
    let layer_digest = client.push_blob(&r, &layer).unwrap();
    let config_digest = client.push_blob(&r, &config).unwrap();
    let manifest = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":{},\"digest\":\"{config_digest}\"}},\"layers\":[{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":{},\"digest\":\"{layer_digest}\"}}]}}",
        config.len(),
        layer.len()
    );
    let digest = client
        .put_manifest(
            &r,
            "latest",
            manifest.as_bytes(),
            "application/vnd.oci.image.manifest.v1+json",
        )
        .unwrap();
    digest.trim_start_matches("sha256:").to_owned()
}

/// A registry client for tests: plain HTTP to `insecure` when given, extra CA `ca`, and
/// credentials from the Docker config dir `docker_config`.
pub fn client(
    insecure: Option<&str>,
    ca: Option<&Path>,
    docker_config: &Path,
) -> chainlet::registry::Client {
    chainlet::registry::Client::new(chainlet::registry::Options {
        insecure_registries: insecure.map(str::to_owned).into_iter().collect(),
        extra_ca: ca.map(Path::to_owned),
        docker_config: Some(docker_config.to_owned()),
        deadline: Instant::now() + Duration::from_secs(30),
        read_only: false,
    })
    .unwrap()
}

/// A Docker config dir whose config.json holds `user:password` for `registry`.
pub fn docker_config_for(dir: &Path, registry: &str, user: &str, password: &str) -> PathBuf {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let d = dir.join("docker");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("config.json"),
        format!("{{\"auths\":{{\"{registry}\":{{\"auth\":\"{auth}\"}}}}}}"),
    )
    .unwrap();
    d
}

pub fn plain_client(addr: &str) -> chainlet::registry::Client {
    client(Some(addr), None, &empty_docker_config())
}

fn empty_docker_config() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("chainlet-empty-docker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), "{}").unwrap();
        dir
    })
    .clone()
}

/// The layers of a tag, as (mediaType, annotations) JSON values; empty when the tag is absent.
pub fn layers(addr: &str, repo: &str, tag: &str) -> Vec<serde_json::Value> {
    let client = plain_client(addr);
    let r = chainlet::registry::Repo {
        registry: addr.to_owned(),
        repository: repo.to_owned(),
    };
    match client.get_manifest(&r, tag).unwrap() {
        None => vec![],
        Some(m) => {
            let v: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
            v["layers"].as_array().cloned().unwrap_or_default()
        }
    }
}

fn getrandom_fill(b: &mut [u8]) {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    for (i, x) in b.iter_mut().enumerate() {
        *x = (t >> (i % 16 * 8)) as u8 ^ (i as u8).wrapping_mul(31) ^ std::process::id() as u8;
    }
}
