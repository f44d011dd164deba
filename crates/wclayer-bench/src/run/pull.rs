//! The `pull` work item: an image pulled from a registry on a loopback port and unpacked,
//! `wclayer unpack docker://...` against `skopeo copy docker://... oci:...` followed by
//! `umoci raw unpack` (docs/performance.md, "Pull").
//!
//! The setup, once per run and not timed: a one-layer Windows image whose layer blob is the
//! run's `.tar.gz` input (the file `import-gz` reads), written as an OCI layout by this
//! module (Docker schema 2 media types, as Microsoft's registry serves nanoserver; the
//! config carries `os`, `os.version`, `architecture` and the diffID, the SHA-256 of the
//! uncompressed tar); Debian's `docker-registry` started on a free loopback port with its
//! storage in the run's directory; the image pushed there with `wclayer push`. Every round
//! then pulls the same blobs, each side into a destination that did not exist before. The
//! registry is killed when the item ends, by a guard that also does it on an error.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};

use super::tools::{Tools, is_root};
use super::{Cmd, measure, os, sh_quote};
use crate::profile::ProfileName;

/// The tag of the benchmark's image.
pub(crate) const TAG: &str = "ltsc2022";

/// The `os.version` of the image: Windows Server 2022 as its base images give it.
const OS_VERSION: &str = "10.0.20348.2113";

/// The repository the image is pushed to: named after the image the profile is shaped like.
pub(crate) fn repository(profile: ProfileName) -> &'static str {
    match profile {
        ProfileName::Nano => "windows/nanoserver",
        ProfileName::Core => "windows/servercore",
    }
}

/// `sha256:<hex>` of everything `r` gives, and its length.
fn sha256_of(mut r: impl io::Read) -> io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let got = r.read(&mut buf)?;
        if got == 0 {
            break;
        }
        h.update(&buf[..got]);
        n += got as u64;
    }
    Ok((format!("sha256:{}", hex::encode(h.finalize())), n))
}

/// `sha256:<hex>` of `bytes`.
fn sha256_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The image config: a Windows base image's fields, the one diffID.
pub(crate) fn config_json(diff_id: &str) -> String {
    format!(
        concat!(
            r#"{{"architecture":"amd64","os":"windows","os.version":"{v}","#,
            r#""created":"2023-11-07T00:00:00Z","#,
            r#""config":{{"User":"ContainerUser","Env":null,"#,
            r#""Cmd":["c:\\windows\\system32\\cmd.exe"]}},"#,
            r#""rootfs":{{"type":"layers","diff_ids":["{d}"]}},"#,
            r#""history":[{{"created":"2023-11-07T00:00:00Z","created_by":"Apply image {v}"}}]}}"#
        ),
        v = OS_VERSION,
        d = diff_id
    )
}

/// The Docker schema 2 manifest of the config and the one gzip layer.
pub(crate) fn manifest_json(config: (&str, u64), layer: (&str, u64)) -> String {
    format!(
        concat!(
            r#"{{"schemaVersion":2,"#,
            r#""mediaType":"application/vnd.docker.distribution.manifest.v2+json","#,
            r#""config":{{"mediaType":"application/vnd.docker.container.image.v1+json","#,
            r#""size":{cs},"digest":"{cd}"}},"#,
            r#""layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","#,
            r#""size":{ls},"digest":"{ld}"}}]}}"#
        ),
        cs = config.1,
        cd = config.0,
        ls = layer.1,
        ld = layer.0
    )
}

/// The layout's `index.json`: the manifest under [`TAG`], with its platform.
pub(crate) fn index_json(manifest: (&str, u64)) -> String {
    format!(
        concat!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","#,
            r#""manifests":[{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","#,
            r#""digest":"{md}","size":{ms},"#,
            r#""platform":{{"architecture":"amd64","os":"windows","os.version":"{v}"}},"#,
            r#""annotations":{{"org.opencontainers.image.ref.name":"{t}"}}}}]}}"#
        ),
        md = manifest.0,
        ms = manifest.1,
        v = OS_VERSION,
        t = TAG
    )
}

/// `dir/blobs/sha256/<hex>` of `digest`.
fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// Writes the OCI layout `dir` of the one-layer image whose layer blob is `gz` (linked,
/// else copied) and whose diffID is the SHA-256 of `tar`. Returns the layer's diffID.
pub(crate) fn write_layout(dir: &Path, tar: &Path, gz: &Path) -> anyhow::Result<String> {
    let open = |p: &Path| File::open(p).with_context(|| format!("cannot open {}", p.display()));
    let (diff_id, _) = sha256_of(open(tar)?)?;
    let (digest, size) = sha256_of(open(gz)?)?;
    fs::create_dir_all(dir.join("blobs/sha256"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let layer = blob_path(dir, &digest);
    if fs::hard_link(gz, &layer).is_err() {
        fs::copy(gz, &layer).with_context(|| format!("cannot copy {}", gz.display()))?;
    }
    let config = config_json(&diff_id);
    let config_digest = sha256_bytes(config.as_bytes());
    fs::write(blob_path(dir, &config_digest), &config)?;
    let manifest = manifest_json((&config_digest, config.len() as u64), (&digest, size));
    let manifest_digest = sha256_bytes(manifest.as_bytes());
    fs::write(blob_path(dir, &manifest_digest), &manifest)?;
    fs::write(
        dir.join("index.json"),
        index_json((&manifest_digest, manifest.len() as u64)),
    )?;
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    Ok(diff_id)
}

/// The registry's configuration: filesystem storage in `storage`, plain HTTP on
/// `127.0.0.1:port`, only errors logged (no access log), no background purging of uploads.
pub(crate) fn registry_config(storage: &Path, port: u16) -> String {
    format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  \
         filesystem:\n    rootdirectory: {}\n  maintenance:\n    uploadpurging:\n      \
         enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n",
        storage.display()
    )
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running registry; killed (and waited for) when dropped.
pub(crate) struct Registry {
    child: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The end of a log file, for an error message.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

impl Registry {
    /// Starts `binary serve` with its configuration, storage and log in `dir`, and waits
    /// until it accepts connections (at most 30 s).
    pub(crate) fn start(binary: &Path, dir: &Path) -> anyhow::Result<Registry> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let port = free_port().context("no free port on 127.0.0.1")?;
        let config = dir.join("registry.yml");
        fs::write(&config, registry_config(&dir.join("storage"), port))?;
        let log_path = dir.join("registry.log");
        let log = File::create(&log_path)?;
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        let mut registry = Registry { child, port };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(registry);
            }
            if let Some(status) = registry.child.try_wait()? {
                bail!(
                    "the registry exited ({status}); the end of its log ({}):\n{}",
                    log_path.display(),
                    log_tail(&log_path)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "the registry did not listen on 127.0.0.1:{port} within 30 s; the end of its log \
             ({}):\n{}",
            log_path.display(),
            log_tail(&log_path)
        )
    }

    /// `docker://127.0.0.1:PORT/REPO:TAG`.
    pub(crate) fn reference(&self, repository: &str) -> String {
        reference(self.port, repository)
    }
}

/// `docker://127.0.0.1:PORT/REPO:TAG`.
pub(crate) fn reference(port: u16, repository: &str) -> String {
    format!("docker://127.0.0.1:{port}/{repository}:{TAG}")
}

/// The item's setup: the layout written, the registry started, the image pushed. Drop it to
/// stop the registry.
pub(crate) struct Served {
    registry: Registry,
    /// What each round pulls: `docker://127.0.0.1:PORT/REPO:TAG`.
    pub(crate) source: String,
}

/// Writes the image into `dir/image`, starts the registry in `dir/registry` and pushes the
/// image with `wclayer push` (not timed).
pub(crate) fn serve(
    wclayer: &Path,
    registry: &Path,
    profile: ProfileName,
    tar: &Path,
    gz: &Path,
    dir: &Path,
) -> anyhow::Result<Served> {
    // skopeo's `oci:DIR:TAG` and umoci's `--image DIR:TAG` take the tag after a colon.
    anyhow::ensure!(
        !dir.to_string_lossy().contains(':'),
        "the pull item needs a work directory without `:` in its path (skopeo and umoci \
         read `DIR:TAG`): {}",
        dir.display()
    );
    let layout = dir.join("image");
    println!("  pull: writing the image (its layer blob: the .tar.gz input) (not measured)");
    let diff_id = write_layout(&layout, tar, gz)?;
    let registry = Registry::start(registry, &dir.join("registry"))?;
    let source = registry.reference(repository(profile));
    println!(
        "  pull: registry on 127.0.0.1:{}; pushing the image to {source} (not measured)",
        registry.port
    );
    let push = vec![
        os(wclayer),
        os("push"),
        os(format!("oci:{}:{TAG}", layout.display())),
        os(source.as_str()),
    ];
    measure::run(&push, None, &dir.join("push.log"))?;
    println!("  pull: diffID {diff_id}");
    Ok(Served { registry, source })
}

impl Served {
    /// The registry's port.
    pub(crate) fn port(&self) -> u16 {
        self.registry.port
    }
}

/// The peer's script, run as `sh -c SCRIPT sh SOURCE LAYOUT TAG ROOTFS`: skopeo copies the
/// image into a new OCI layout, umoci unpacks its layers into a new tree (`--rootless` when
/// not root).
pub(crate) fn peer_script(skopeo: &Path, umoci: &Path, rootless: bool) -> String {
    format!(
        "{} copy --src-tls-verify=false \"$1\" \"oci:$2:$3\" && {} raw unpack{} --image \
         \"$2:$3\" \"$4\"",
        sh_quote(&skopeo.to_string_lossy()),
        sh_quote(&umoci.to_string_lossy()),
        if rootless { " --rootless" } else { "" }
    )
}

/// wclayer's and the peer's command of `round`, and what each writes: wclayer a new store,
/// the peer a new directory holding its layout (`oci`) and its tree (`rootfs`).
pub(crate) fn commands(
    served: &Served,
    wclayer: &Path,
    tools: &Tools,
    dir: &Path,
    round: usize,
) -> anyhow::Result<(Cmd, Cmd)> {
    let skopeo = &tools.skopeo.as_ref().context("skopeo is missing")?.path;
    let umoci = &tools.umoci.as_ref().context("umoci is missing")?.path;
    let mine = dir.join(format!("r{round}-wclayer"));
    let theirs = dir.join(format!("r{round}-skopeo-umoci"));
    let w = vec![
        os(wclayer),
        os("unpack"),
        os(served.source.as_str()),
        os(mine.as_os_str()),
    ];
    let p: Vec<OsString> = vec![
        os("sh"),
        os("-c"),
        os(peer_script(skopeo, umoci, !is_root())),
        os("sh"),
        os(served.source.as_str()),
        os(theirs.join("oci").as_os_str()),
        os(TAG),
        os(theirs.join("rootfs").as_os_str()),
    ];
    Ok(((w, mine), (p, theirs)))
}

/// The two command lines as the report shows them.
pub(crate) fn shown_commands(port: u16, profile: ProfileName) -> (String, String) {
    let source = reference(port, repository(profile));
    (
        format!("wclayer unpack {source} STORE"),
        format!(
            "skopeo copy --src-tls-verify=false {source} oci:DIR:{TAG} && umoci raw \
             unpack{} --image DIR:{TAG} ROOTFS",
            if is_root() { "" } else { " --rootless" }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Options, Work, remove_tree, run};

    fn json(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    #[test]
    fn image_documents_name_each_other_and_carry_the_windows_fields() {
        let diff_id = format!("sha256:{}", "a".repeat(64));
        let config = config_json(&diff_id);
        let c = json(&config);
        assert_eq!(c["os"], "windows");
        assert_eq!(c["architecture"], "amd64");
        assert_eq!(c["os.version"], OS_VERSION);
        assert_eq!(c["rootfs"]["type"], "layers");
        assert_eq!(c["rootfs"]["diff_ids"][0], diff_id.as_str());
        assert_eq!(c["config"]["Cmd"][0], r"c:\windows\system32\cmd.exe");
        assert_eq!(c["history"].as_array().unwrap().len(), 1);

        let layer = format!("sha256:{}", "b".repeat(64));
        let cd = sha256_bytes(config.as_bytes());
        let m = json(&manifest_json((&cd, config.len() as u64), (&layer, 123)));
        assert_eq!(m["schemaVersion"], 2);
        assert_eq!(m["config"]["digest"], cd.as_str());
        assert_eq!(m["config"]["size"], config.len() as u64);
        assert_eq!(
            m["layers"][0]["mediaType"],
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
        assert_eq!(m["layers"][0]["digest"], layer.as_str());
        assert_eq!(m["layers"][0]["size"], 123);

        let i = json(&index_json(("sha256:cc", 77)));
        assert_eq!(i["manifests"][0]["digest"], "sha256:cc");
        assert_eq!(i["manifests"][0]["size"], 77);
        assert_eq!(i["manifests"][0]["platform"]["os"], "windows");
        assert_eq!(
            i["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
            TAG
        );
    }

    #[test]
    fn layout_blobs_are_the_input_and_the_diff_id_is_the_tar_hash() {
        let t = tempfile::tempdir().unwrap();
        let (tar, gz) = (t.path().join("l.tar"), t.path().join("l.tar.gz"));
        fs::write(&tar, b"not really a tar").unwrap();
        fs::write(&gz, b"not really gzip").unwrap();
        let layout = t.path().join("image");
        let diff_id = write_layout(&layout, &tar, &gz).unwrap();
        assert_eq!(diff_id, sha256_bytes(b"not really a tar"));
        let index = json(&fs::read_to_string(layout.join("index.json")).unwrap());
        let md = index["manifests"][0]["digest"].as_str().unwrap();
        let manifest = fs::read(blob_path(&layout, md)).unwrap();
        assert_eq!(sha256_bytes(&manifest), md);
        assert_eq!(index["manifests"][0]["size"], manifest.len());
        let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        let ld = m["layers"][0]["digest"].as_str().unwrap();
        assert_eq!(
            fs::read(blob_path(&layout, ld)).unwrap(),
            b"not really gzip"
        );
        let cd = m["config"]["digest"].as_str().unwrap();
        let config = fs::read(blob_path(&layout, cd)).unwrap();
        assert_eq!(sha256_bytes(&config), cd);
        let c: serde_json::Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(c["rootfs"]["diff_ids"][0], diff_id.as_str());
        assert!(layout.join("oci-layout").is_file());
    }

    #[test]
    fn registry_config_listens_on_loopback_and_stores_in_the_run() {
        let text = registry_config(Path::new("/w/run-1/pull/registry/storage"), 5123);
        assert!(text.starts_with("version: 0.1\n"), "{text}");
        assert!(text.contains("\nhttp:\n  addr: 127.0.0.1:5123\n"), "{text}");
        assert!(
            text.contains("  filesystem:\n    rootdirectory: /w/run-1/pull/registry/storage\n"),
            "{text}"
        );
        assert!(text.contains("    disabled: true\n"), "{text}");
    }

    #[test]
    fn command_lines() {
        assert_eq!(
            peer_script(
                Path::new("/usr/bin/skopeo"),
                Path::new("/usr/bin/umoci"),
                false
            ),
            "'/usr/bin/skopeo' copy --src-tls-verify=false \"$1\" \"oci:$2:$3\" && \
             '/usr/bin/umoci' raw unpack --image \"$2:$3\" \"$4\""
        );
        assert!(
            peer_script(Path::new("skopeo"), Path::new("umoci"), true)
                .contains(" raw unpack --rootless --image ")
        );
        assert_eq!(
            reference(5000, repository(ProfileName::Nano)),
            "docker://127.0.0.1:5000/windows/nanoserver:ltsc2022"
        );
        let (w, p) = shown_commands(5000, ProfileName::Core);
        assert_eq!(
            w,
            "wclayer unpack docker://127.0.0.1:5000/windows/servercore:ltsc2022 STORE"
        );
        assert!(
            p.starts_with(
                "skopeo copy --src-tls-verify=false \
                 docker://127.0.0.1:5000/windows/servercore:ltsc2022 oci:DIR:ltsc2022 && umoci \
                 raw unpack"
            ),
            "{p}"
        );
    }

    /// The wclayer binary of this target directory, if it has `unpack`.
    fn wclayer_binary() -> Option<PathBuf> {
        let exe = std::env::current_exe().ok()?;
        let bin = exe.parent()?.parent()?.join("wclayer");
        let ok = Command::new(&bin)
            .args(["unpack", "--help"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(bin)
    }

    /// The whole item on a tiny layer, one round: setup, both sides, the registry stopped;
    /// no timings asserted. Skips (saying so) without the tools or a wclayer binary with
    /// `unpack` beside the test (`cargo build -p wclayer-cli`); CI's
    /// `WCLAYER_TEST_REQUIRE_REGISTRY` turns a missing tool into a failure.
    #[test]
    fn one_round_of_the_pull_item_on_a_tiny_layer() {
        let tools = Tools::detect(false, false);
        for (name, found) in [
            ("docker-registry", tools.registry.is_some()),
            ("skopeo", tools.skopeo.is_some()),
            ("umoci", tools.umoci.is_some()),
            ("gzip", tools.gzip.is_some() || tools.pigz.is_some()),
        ] {
            if !found {
                assert!(
                    std::env::var_os("WCLAYER_TEST_REQUIRE_REGISTRY").is_none(),
                    "{name} is required (apt-get install skopeo umoci docker-registry)"
                );
                eprintln!("SKIPPED: {name} is not installed");
                return;
            }
        }
        let Some(wclayer) = wclayer_binary() else {
            eprintln!(
                "SKIPPED: no wclayer binary with `unpack` in this target directory (cargo \
                 build -p wclayer-cli)"
            );
            return;
        };
        let t = tempfile::tempdir().unwrap();
        let o = Options {
            profile: ProfileName::Nano,
            scale: 0.01,
            seed: 3,
            rounds: 1,
            work: t.path().to_path_buf(),
            only: vec![Work::Pull],
            wclayer,
            keep: true,
            install: false,
        };
        run(&o).unwrap();
        let runs: Vec<PathBuf> = fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("run-"))
            .collect();
        assert_eq!(runs.len(), 1, "{runs:?}");
        let dir = runs[0].join("pull");
        // wclayer's store holds the one layer, named by its diffID (a base layer's chain
        // ID); the peer's tree has the layer's top directories.
        let layers: Vec<String> = fs::read_dir(dir.join("r1-wclayer/layers/sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(layers.len(), 1, "{layers:?}");
        let tar = fs::read_dir(t.path().join("inputs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "tar"))
            .unwrap();
        let (diff_id, _) = sha256_of(File::open(tar).unwrap()).unwrap();
        assert_eq!(format!("sha256:{}", layers[0]), diff_id);
        let rootfs = dir.join("r1-skopeo-umoci/rootfs");
        assert!(rootfs.join("Files").is_dir() && rootfs.join("UtilityVM").is_dir());
        assert!(dir.join("r1-skopeo-umoci/oci/index.json").is_file());
        // The registry was stopped: nothing listens on its port any more.
        let yml = fs::read_to_string(dir.join("registry/registry.yml")).unwrap();
        let addr = yml
            .lines()
            .find_map(|l| l.trim().strip_prefix("addr: "))
            .unwrap()
            .to_owned();
        assert!(TcpStream::connect(&addr).is_err(), "{addr} still listens");
        remove_tree(&runs[0]).unwrap();
    }
}
