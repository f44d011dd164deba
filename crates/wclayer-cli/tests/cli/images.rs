//! `wclayer build`, `unpack`, `inspect`: images made from the generated sample layers,
//! written as OCI layouts and `docker save` archives, unpacked into stores, read by skopeo
//! and umoci and read back from what skopeo writes.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{ls, s, stdout_of, wclayer};

pub(super) fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub(super) fn run(dir: &Path, args: &[&str]) -> Output {
    wclayer().current_dir(dir).args(args).output().unwrap()
}

pub(super) fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "wclayer {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub(super) fn json_of(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(dir, args)).unwrap()
}

/// The one error line of a failed command, which names every word of `words`.
pub(super) fn failed(out: &Output, words: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {err:?}");
    assert!(lines[0].starts_with("wclayer: error: "), "{err}");
    assert!(!lines[0].contains("wclayer-staging"), "{err}");
    for w in words {
        assert!(lines[0].contains(w), "{w:?} not in {err:?}");
    }
    lines[0].to_string()
}

/// The sample base and delta layers in their normal form (what an export writes), so that
/// exporting them after an unpack gives the same diffIDs.
pub(super) fn samples(dir: &Path) {
    ok(dir, &["sample", "base", "-o", "raw-base.tar"]);
    ok(dir, &["sample", "delta", "-o", "raw-delta.tar"]);
    ok(dir, &["convert", "raw-base.tar", "base.tar"]);
    ok(dir, &["convert", "raw-delta.tar", "delta.tar.gz"]);
}

/// `oci:base:v1` (the base layer) and `oci:app:v1` (base + delta).
pub(super) fn two_images(dir: &Path) {
    samples(dir);
    ok(
        dir,
        &[
            "build",
            "--platform",
            "windows/amd64:10.0.20348.1",
            "--layer",
            "base.tar",
            "-o",
            "oci:base:v1",
        ],
    );
    build_delta(dir, "oci:app:v1");
}

/// `oci:base:v1` with the sample delta layer on top, written to `out`.
pub(super) fn build_delta(dir: &Path, out: &str) -> String {
    ok(
        dir,
        &[
            "build",
            "--base",
            "oci:base:v1",
            "--layer",
            "delta.tar.gz",
            "-o",
            out,
        ],
    )
}

/// A layer tar `out` over the layer directory `parent` with one new file, `hello\hello.txt`.
pub(super) fn hello_layer(dir: &Path, parent: &str, out: &str) {
    std::fs::create_dir_all(dir.join("app2/hello")).unwrap();
    std::fs::write(dir.join("app2/hello/hello.txt"), b"hello").unwrap();
    ok(
        dir,
        &[
            "create",
            "-l",
            parent,
            "--source-date-epoch",
            "0",
            "-o",
            out,
            "app2",
        ],
    );
}

/// A config's `rootfs.diff_ids`.
pub(super) fn diff_ids_of(config: &Value) -> Vec<String> {
    config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

pub(super) fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

pub(super) fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

pub(super) fn write_blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let d = sha(bytes);
    std::fs::write(blob(layout, &d), bytes).unwrap();
    (d, bytes.len())
}

/// The manifest and config of the only image of a layout.
pub(super) fn image_of(layout: &Path) -> (Value, Value) {
    let index = read_json(&layout.join("index.json"));
    let m = read_json(&blob(
        layout,
        index["manifests"][0]["digest"].as_str().unwrap(),
    ));
    let c = read_json(&blob(layout, m["config"]["digest"].as_str().unwrap()));
    (m, c)
}

/// Writes `manifest` (and `config`, when given) back as the layout's only image, tagged `v1`.
pub(super) fn set_image(layout: &Path, manifest: &mut Value, config: Option<&Value>) {
    if let Some(c) = config {
        let (d, n) = write_blob(layout, &serde_json::to_vec(c).unwrap());
        manifest["config"]["digest"] = json!(d);
        manifest["config"]["size"] = json!(n);
    }
    let (d, n) = write_blob(layout, &serde_json::to_vec(manifest).unwrap());
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": n,
        "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

#[test]
fn an_image_built_from_layers_unpacks_and_exports_with_the_same_diff_ids_and_reuses_its_base() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    two_images(d);
    let (manifest, config) = image_of(&d.join("app"));
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(config["os"], "windows");
    assert_eq!(config["os.version"], "10.0.20348.1");
    assert_eq!(config["history"].as_array().unwrap().len(), 2);
    let diff_ids = diff_ids_of(&config);
    assert_eq!(diff_ids.len(), 2);

    let u = json_of(d, &["unpack", "--json", "oci:app:v1", "store"]);
    assert_eq!(
        (u["imported"].as_u64(), u["reused"].as_u64()),
        (Some(2), Some(0))
    );
    let layers = u["layers"].as_array().unwrap();
    let chain1 = diff_ids[0].clone();
    let chain2 = sha(format!("{} {}", diff_ids[0], diff_ids[1]).as_bytes());
    assert_eq!(layers[0]["chain_id"], json!(chain1));
    assert_eq!(layers[1]["chain_id"], json!(chain2));
    let top = u["top"].as_str().unwrap().to_string();
    let parent = u["parents"][0].as_str().unwrap().to_string();
    assert_eq!(top, format!("store/layers/sha256/{}", &chain2[7..]));
    assert_eq!(parent, format!("store/layers/sha256/{}", &chain1[7..]));
    assert!(
        d.join("store/images/sha256")
            .join(format!("{}.json", &u["manifest"].as_str().unwrap()[7..]))
            .is_file()
    );

    // Each layer exports again with its diffID.
    for (dir, want) in [(&parent, &diff_ids[0]), (&top, &diff_ids[1])] {
        let e = json_of(d, &["export", "--json", "-o", "x.tar", "--force", dir]);
        assert_eq!(&e["diff_id"], want, "{dir}");
    }
    // The chain is what ls -l takes.
    let listing = ok(d, &["ls", "-l", &parent, &top]);
    assert!(listing.contains("Files"), "{listing}");

    // A second image on the same base: the base layer is reused, not imported again.
    hello_layer(d, &parent, "hello.tar.gz");
    ok(
        d,
        &[
            "build",
            "--base",
            "oci:base:v1",
            "--layer",
            "hello.tar.gz",
            "-o",
            "oci:hello:v1",
        ],
    );
    let text = ok(d, &["unpack", "oci:hello:v1", "store"]);
    assert!(
        text.contains(&format!(
            "reused layer 1/2 {chain1}: {parent} is in the store already"
        )),
        "{text}"
    );
    assert!(text.contains("2 layers, 1 imported, 1 reused"), "{text}");
    let again = json_of(d, &["unpack", "--json", "oci:hello:v1", "store"]);
    assert_eq!(
        (again["imported"].as_u64(), again["reused"].as_u64()),
        (Some(0), Some(2))
    );

    // A layer directory as a new layer: exported, with the diffID its export has.
    let delta_dir = format!("store/layers/sha256/{}", &chain2[7..]);
    let b = json_of(
        d,
        &[
            "build",
            "--json",
            "--zstd",
            "--base",
            "oci:base:v1",
            "--layer",
            &delta_dir,
            "-o",
            "oci:zst:v1",
        ],
    );
    assert_eq!(b["layers"][0]["diff_id"], json!(diff_ids[1]));
    assert_eq!(
        b["layers"][0]["media_type"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    assert_eq!(
        (b["copied"].as_u64(), b["present"].as_u64()),
        (Some(1), Some(0))
    );
    let z = json_of(d, &["unpack", "--json", "oci:zst:v1", "store"]);
    assert_eq!(z["reused"].as_u64(), Some(2), "the same chain");
    // The base's blob is copied as it is, its digest unchanged.
    let (base_manifest, _) = image_of(&d.join("base"));
    let (zst_manifest, _) = image_of(&d.join("zst"));
    assert_eq!(base_manifest["layers"][0], zst_manifest["layers"][0]);
    // A base layer directory on top of a base image is refused.
    let out = run(
        d,
        &[
            "build",
            "--base",
            "oci:base:v1",
            "--layer",
            &parent,
            "-o",
            "oci:bad:v1",
        ],
    );
    failed(&out, &["base layer", &parent]);
    assert!(!d.join("bad/index.json").exists());
}

#[test]
fn inspect_shows_platforms_layers_and_config() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    two_images(d);
    let i = json_of(d, &["inspect", "--json", "oci:app:v1"]);
    assert_eq!(i["config"]["os"], "windows");
    assert_eq!(i["config"]["os.version"], "10.0.20348.1");
    assert_eq!(i["config"]["architecture"], "amd64");
    assert_eq!(i["config"]["history"], 2);
    let layers = i["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(
        layers[1]["media_type"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let text = ok(d, &["inspect", "oci:app:v1"]);
    assert!(
        text.contains("os windows, os.version 10.0.20348.1, architecture amd64, 2 history entries"),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("layer ")).count(),
        2,
        "{text}"
    );
}

/// Puts the image of `app` behind an index with a Linux entry and returns the layout.
fn with_index(d: &Path) -> PathBuf {
    let layout = d.join("multi");
    copy_dir(&d.join("app"), &layout);
    let index = read_json(&layout.join("index.json"));
    let m = &index["manifests"][0];
    let list = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {"mediaType": m["mediaType"], "digest": m["digest"], "size": m["size"],
         "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": m["mediaType"], "digest": m["digest"], "size": m["size"],
         "platform": {"os": "windows", "architecture": "amd64", "os.version": "10.0.20348.1"}},
    ]});
    let (d2, n) = write_blob(&layout, &serde_json::to_vec(&list).unwrap());
    let top = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": d2, "size": n,
        "annotations": {"org.opencontainers.image.ref.name": "multi"}}]});
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    layout
}

#[test]
fn platforms_are_picked_from_an_index_and_a_missing_one_lists_those_there_are() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    two_images(d);
    with_index(d);
    let i = json_of(d, &["inspect", "--json", "oci:multi:multi"]);
    assert_eq!(i["platforms"].as_array().unwrap().len(), 2);
    let u = json_of(
        d,
        &[
            "unpack",
            "--json",
            "--platform",
            "windows/amd64:10.0.20348",
            "oci:multi",
            "store",
        ],
    );
    assert_eq!(u["imported"].as_u64(), Some(2));
    for p in ["windows/arm64", "windows/amd64:10.0.17763"] {
        let out = run(d, &["unpack", "--platform", p, "oci:multi:multi", "store2"]);
        failed(
            &out,
            &[
                "oci:multi:multi",
                p,
                "available: linux/arm64, windows/amd64:10.0.20348.1",
            ],
        );
    }
    let out = run(d, &["unpack", "oci:multi:nope", "store2"]);
    failed(&out, &["no image tagged nope", "its tags: multi"]);
}

/// Unpacks `oci:bad:v1` into a store holding nothing yet and checks the error and that no
/// layer but the complete ones below the failing layer is left.
fn unpack_fails(d: &Path, words: &[&str], complete: usize) {
    let store = d.join("s");
    let _ = std::fs::remove_dir_all(&store);
    let out = run(d, &["unpack", "oci:bad:v1", "s"]);
    let mut all = vec!["oci:bad:v1"];
    all.extend_from_slice(words);
    failed(&out, &all);
    let left = if store.join("layers/sha256").exists() {
        ls(&store.join("layers/sha256"))
    } else {
        Vec::new()
    };
    assert_eq!(left.len(), complete, "{left:?}");
    assert!(left.iter().all(|n| !n.starts_with('.')), "{left:?}");
    if complete == 0 {
        assert!(!store.exists(), "a new store that got nothing is removed");
    } else {
        assert!(ls(&store.join("images/sha256")).is_empty());
    }
}

#[test]
fn bad_images_fail_naming_the_image_and_the_layer_and_leave_no_half_imported_layer() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    two_images(d);
    let bad = d.join("bad");
    let fresh = || {
        let _ = std::fs::remove_dir_all(&bad);
        copy_dir(&d.join("app"), &bad);
        image_of(&bad)
    };

    // A corrupted blob.
    let (m, _) = fresh();
    let layer2 = m["layers"][1]["digest"].as_str().unwrap().to_string();
    let mut bytes = std::fs::read(blob(&bad, &layer2)).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(blob(&bad, &layer2), &bytes).unwrap();
    unpack_fails(d, &["layer 2", &layer2], 1);
    // The base layer's blob, cut short: a new store that got nothing is not left behind.
    let (m, _) = fresh();
    let layer1 = m["layers"][0]["digest"].as_str().unwrap().to_string();
    let bytes = std::fs::read(blob(&bad, &layer1)).unwrap();
    std::fs::write(blob(&bad, &layer1), &bytes[..bytes.len() - 10]).unwrap();
    unpack_fails(d, &["layer 1", &layer1], 0);

    // A wrong diffID in the config.
    let (mut m, mut c) = fresh();
    let wrong = sha(b"not the layer");
    c["rootfs"]["diff_ids"][1] = json!(wrong);
    set_image(&bad, &mut m, Some(&c));
    unpack_fails(d, &["layer 2", "diffID", &wrong], 1);

    // A manifest over the size limit (valid JSON, padded).
    let (m, _) = fresh();
    let mut big = serde_json::to_vec(&m).unwrap();
    big.extend(std::iter::repeat_n(b' ', 5 << 20));
    let (bd, bn) = write_blob(&bad, &big);
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": bd, "size": bn,
        "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
    std::fs::write(bad.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    unpack_fails(d, &["the manifest", &bd, "larger than 4194304 bytes"], 0);

    // A foreign layer whose blob is not there.
    let (mut m, _) = fresh();
    m["layers"][1]["mediaType"] =
        json!("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip");
    m["layers"][1]["urls"] = json!(["https://example.invalid/layer2"]);
    std::fs::remove_file(blob(&bad, &layer2)).unwrap();
    set_image(&bad, &mut m, None);
    unpack_fails(
        d,
        &["layer 2", "foreign layer", "https://example.invalid/layer2"],
        1,
    );
    // Building on it keeps the foreign layer's descriptor, without its blob.
    let b = json_of(
        d,
        &[
            "build",
            "--json",
            "--base",
            "oci:bad:v1",
            "--layer",
            "delta.tar.gz",
            "-o",
            "oci:onforeign:v1",
        ],
    );
    assert_eq!(b["foreign"].as_u64(), Some(1));
    let (m2, _) = image_of(&d.join("onforeign"));
    assert_eq!(m2["layers"][1]["urls"][0], "https://example.invalid/layer2");

    // A digest that is a path.
    let (mut m, _) = fresh();
    m["layers"][1]["digest"] = json!("sha256:../../../../etc/passwd");
    set_image(&bad, &mut m, None);
    unpack_fails(
        d,
        &["layer 2: \"sha256:../../../../etc/passwd\" is not a digest"],
        0,
    );

    // An unknown layer media type.
    let (mut m, _) = fresh();
    m["layers"][1]["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+xz");
    set_image(&bad, &mut m, None);
    unpack_fails(
        d,
        &["layer 2 has media type application/vnd.oci.image.layer.v1.tar+xz"],
        0,
    );
}

/// A `docker save` archive of the sample layers: the base uncompressed, the delta gzip.
fn docker_archive(d: &Path) -> PathBuf {
    let base = std::fs::read(d.join("base.tar")).unwrap();
    let delta_gz = std::fs::read(d.join("delta.tar.gz")).unwrap();
    let mut delta = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&delta_gz[..]), &mut delta)
        .unwrap();
    let config = json!({"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1",
        "rootfs": {"type": "layers", "diff_ids": [sha(&base), sha(&delta)]},
        "history": [{"created_by": "base"}, {"created_by": "delta"}],
        "container_config": {"Hostname": "kept"}});
    let config = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", &sha(&config)[7..]);
    let manifest = json!([{"Config": config_name, "RepoTags": ["example/app:v1"],
        "Layers": ["aaaa/layer.tar", "bbbb/layer.tar"]}]);
    let path = d.join("saved.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
    for (name, data) in [
        ("manifest.json", serde_json::to_vec(&manifest).unwrap()),
        (config_name.as_str(), config),
        ("aaaa/layer.tar", base),
        ("bbbb/layer.tar", delta_gz),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.finish().unwrap();
    path
}

#[test]
fn docker_save_archives_unpack_and_build_as_docker_images() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    samples(d);
    docker_archive(d);
    let i = json_of(d, &["inspect", "--json", "docker-archive:saved.tar"]);
    assert_eq!(i["config"]["os.version"], "10.0.17763.1");
    let u = json_of(
        d,
        &[
            "unpack",
            "--json",
            "docker-archive:saved.tar:example/app:v1",
            "store",
        ],
    );
    assert_eq!(u["imported"].as_u64(), Some(2));
    let b = json_of(
        d,
        &[
            "build",
            "--json",
            "--base",
            "docker-archive:saved.tar",
            "--layer",
            "delta.tar.gz",
            "-o",
            "oci:out:v1",
        ],
    );
    assert_eq!(
        b["manifest_media_type"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(b["copied"].as_u64(), Some(2));
    let (m, c) = image_of(&d.join("out"));
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar"
    );
    assert_eq!(
        m["layers"][1]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    assert_eq!(
        m["layers"][2]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.docker.container.image.v1+json"
    );
    assert_eq!(c["container_config"]["Hostname"], "kept");
    assert_eq!(c["rootfs"]["diff_ids"].as_array().unwrap().len(), 3);
    let again = json_of(d, &["unpack", "--json", "oci:out:v1", "store"]);
    assert_eq!(
        (again["reused"].as_u64(), again["imported"].as_u64()),
        (Some(2), Some(1))
    );
    // zstd has no Docker media type.
    let out = run(
        d,
        &[
            "build",
            "--zstd",
            "--base",
            "docker-archive:saved.tar",
            "--layer",
            "delta.tar.gz",
            "-o",
            "oci:z:v1",
        ],
    );
    failed(&out, &["docker-archive:saved.tar", "zstd"]);
    let out = run(d, &["unpack", "docker-archive:saved.tar:other:v2", "store"]);
    failed(&out, &["no image other:v2", "example/app:v1"]);
    // import points at unpack.
    let out = run(d, &["import", "-i", "saved.tar", "L"]);
    failed(&out, &["wclayer unpack docker-archive:FILE STORE"]);

    // `docker save IMAGE | gzip`: the same image, the same layers.
    let saved = std::fs::read(d.join("saved.tar")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &saved).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(d.join("saved.tar.gz"), &gz).unwrap();
    let z = json_of(
        d,
        &[
            "unpack",
            "--json",
            "docker-archive:saved.tar.gz:example/app:v1",
            "store-gz",
        ],
    );
    assert_eq!(z["imported"].as_u64(), Some(2));
    assert_eq!(
        z["top"],
        u["top"].as_str().unwrap().replace("store", "store-gz")
    );
    // A damaged one fails naming it, and leaves no store layer.
    std::fs::write(d.join("bad.tar.gz"), &gz[..gz.len() / 2]).unwrap();
    let out = run(d, &["unpack", "docker-archive:bad.tar.gz", "store-bad"]);
    failed(&out, &["cannot decompress", "bad.tar.gz"]);
    assert!(
        !d.join("store-bad/layers").exists()
            || std::fs::read_dir(d.join("store-bad/layers/sha256"))
                .map_or(true, |mut r| r.next().is_none())
    );
}

/// Whether `tool` runs; CI (which installs skopeo and umoci) sets
/// `WCLAYER_TEST_REQUIRE_IMAGE_TOOLS`, and then a missing tool fails the test.
pub(super) fn have(tool: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    found_or_skip(found, tool, "WCLAYER_TEST_REQUIRE_IMAGE_TOOLS", tool)
}

/// `found`; when not, a failing test if CI set `require` (it installs `package`), else a
/// `SKIPPED` line.
pub(super) fn found_or_skip(found: bool, tool: &str, require: &str, package: &str) -> bool {
    if !found {
        assert!(
            std::env::var_os(require).is_none(),
            "{tool} is required (apt-get install {package})"
        );
        eprintln!("SKIPPED: {tool} is not installed");
    }
    found
}

pub(super) fn tool(dir: &Path, cmd: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The names in the tar `file` of `d`, in order (GNU tar's listing).
fn tar_names(d: &Path, file: &str) -> Vec<String> {
    let listed = std::process::Command::new("tar")
        .args(["tf", file])
        .current_dir(d)
        .output()
        .unwrap();
    String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Two unpacks (`--json`) into different stores ended in the same chain.
pub(super) fn same_top(a: &Value, b: &Value) {
    let chain = |v: &Value| {
        let top = v["top"].as_str().unwrap();
        top[top.find("/layers/").unwrap()..].to_string()
    };
    assert_eq!(chain(a), chain(b), "the same chain");
}

/// `build -o docker-archive:FILE:NAME:TAG` writes what `docker load` reads: `manifest.json`
/// beside an OCI layout of the image, the blobs as built; it unpacks into the same chain as
/// the layout build, picks the image by its tag, and goes to standard output with `-`.
#[test]
fn an_image_built_as_a_docker_save_archive_unpacks_into_the_same_chain() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    two_images(d);
    let args = |out: &str| {
        vec![
            "build".to_string(),
            "--base".into(),
            "oci:base:v1".into(),
            "--layer".into(),
            "delta.tar.gz".into(),
            "-o".into(),
            out.into(),
        ]
    };
    let with_env = |out: &str| {
        let a = args(out);
        let out = wclayer()
            .current_dir(d)
            .env("SOURCE_DATE_EPOCH", "0")
            .args(&a)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let text = String::from_utf8(with_env("docker-archive:app.tar:win/app:v1").stdout).unwrap();
    assert!(
        text.ends_with("wrote app.tar as a docker-save archive, tagged win/app:v1\n"),
        "{text}"
    );
    let names = tar_names(d, "app.tar");
    assert_eq!(names[..3], ["oci-layout", "blobs/", "blobs/sha256/"]);
    assert_eq!(names[names.len() - 2..], ["index.json", "manifest.json"]);
    assert_eq!(
        names.len(),
        3 + 4 + 2,
        "manifest, config, two layers: {names:?}"
    );
    let shown = std::process::Command::new("tar")
        .args(["xOf", "app.tar", "manifest.json"])
        .current_dir(d)
        .output()
        .unwrap();
    let m: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(m[0]["RepoTags"], json!(["win/app:v1"]));
    assert_eq!(m[0]["Layers"].as_array().unwrap().len(), 2);
    assert!(
        m[0]["Config"]
            .as_str()
            .unwrap()
            .starts_with("blobs/sha256/")
    );

    let from_archive = json_of(
        d,
        &[
            "unpack",
            "--json",
            "docker-archive:app.tar:win/app:v1",
            "s1",
        ],
    );
    let from_layout = json_of(d, &["unpack", "--json", "oci:app:v1", "s2"]);
    same_top(&from_archive, &from_layout);
    // The same image gives the same bytes; `-` is standard output.
    let piped = with_env("docker-archive:-:win/app:v1");
    let first = with_env("docker-archive:app2.tar:win/app:v1");
    assert!(!first.stdout.is_empty());
    let told = String::from_utf8_lossy(&piped.stderr);
    assert!(
        told.contains("wrote standard output as a docker-save archive"),
        "{told}"
    );
    assert!(
        std::fs::read(d.join("app2.tar")).unwrap() == piped.stdout,
        "the same bytes, to a file and to standard output"
    );
    // The archive holds an OCI layout too: read as `oci-archive:`, the same chain. An OCI
    // archive proper has no manifest.json and is read the same way; a tar without a layout
    // is refused.
    let as_oci = json_of(d, &["unpack", "--json", "oci-archive:app.tar:v1", "s3"]);
    same_top(&as_oci, &from_layout);
    let text = String::from_utf8(with_env("oci-archive:app.oci.tar:v2").stdout).unwrap();
    assert!(
        text.ends_with("wrote app.oci.tar as an OCI archive, tagged v2\n"),
        "{text}"
    );
    let names = tar_names(d, "app.oci.tar");
    assert!(names.contains(&"index.json".to_string()));
    assert!(!names.contains(&"manifest.json".to_string()));
    let oci = json_of(d, &["unpack", "--json", "oci-archive:app.oci.tar:v2", "s4"]);
    same_top(&oci, &from_layout);
    let out = run(d, &["unpack", "oci-archive:app.oci.tar:v9", "s5"]);
    failed(&out, &["no image tagged v9", "v2"]);
    let out = run(d, &["inspect", "oci-archive:base.tar"]);
    failed(&out, &["oci-archive:base.tar", "no OCI image layout"]);
    let refused = |out: &str, words: &[&str]| {
        let a = args(out);
        let out = run(d, &a.iter().map(String::as_str).collect::<Vec<_>>());
        failed(&out, words);
    };
    // A directory is never replaced by an archive.
    std::fs::create_dir(d.join("adir")).unwrap();
    refused("docker-archive:adir", &["adir", "not a regular file"]);
    // An archive's image number names no new image.
    refused("docker-archive:x.tar:@0", &["@0", "NAME:TAG"]);
    assert!(!d.join("x.tar").exists());
}

#[test]
fn skopeo_and_umoci_read_the_layouts_wclayer_writes_and_wclayer_reads_what_skopeo_writes() {
    if !have("skopeo") || !have("umoci") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    two_images(d);
    // skopeo copies and inspects what wclayer wrote.
    tool(d, "skopeo", &["copy", "oci:app:v1", "oci:copy:v1"]);
    let inspected: Value =
        serde_json::from_str(&tool(d, "skopeo", &["inspect", "oci:app:v1"])).unwrap();
    assert_eq!(inspected["Os"], "windows");
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 2);
    // umoci lists, stats and unpacks (raw: umoci's unpack refuses Windows images).
    let tags = tool(d, "umoci", &["ls", "--layout", "app"]);
    assert_eq!(tags.trim(), "v1");
    let stat = tool(d, "umoci", &["stat", "--image", "app:v1"]);
    assert!(
        stat.contains("wclayer build --layer delta.tar.gz"),
        "{stat}"
    );
    tool(
        d,
        "umoci",
        &["raw", "unpack", "--rootless", "--image", "app:v1", "rootfs"],
    );
    assert!(d.join("rootfs/Files").is_dir());
    // wclayer unpacks skopeo's copy into the same chain.
    let a = json_of(d, &["unpack", "--json", "oci:app:v1", "s1"]);
    let b = json_of(d, &["unpack", "--json", "oci:copy:v1", "s2"]);
    assert_eq!(a["layers"], {
        let mut l = b["layers"].clone();
        for x in l.as_array_mut().unwrap() {
            x["path"] = json!(x["path"].as_str().unwrap().replacen("s2/", "s1/", 1));
        }
        l
    });
    // skopeo reads the docker-save archive wclayer writes.
    build_delta(d, "docker-archive:built.tar:win/app:v2");
    let inspected: Value = serde_json::from_str(&tool(
        d,
        "skopeo",
        &["inspect", "docker-archive:built.tar:win/app:v2"],
    ))
    .unwrap();
    assert_eq!(inspected["Os"], "windows");
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 2);
    tool(
        d,
        "skopeo",
        &["copy", "docker-archive:built.tar", "oci:frombuilt:v1"],
    );
    let u = json_of(d, &["unpack", "--json", "oci:frombuilt:v1", "s5"]);
    same_top(&u, &a);
    // OCI archives both ways: skopeo reads wclayer's, wclayer skopeo's.
    build_delta(d, "oci-archive:built.oci.tar:v3");
    let inspected: Value = serde_json::from_str(&tool(
        d,
        "skopeo",
        &["inspect", "oci-archive:built.oci.tar:v3"],
    ))
    .unwrap();
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 2);
    tool(
        d,
        "skopeo",
        &["copy", "oci:app:v1", "oci-archive:skopeo.oci.tar:v1"],
    );
    let u = json_of(
        d,
        &["unpack", "--json", "oci-archive:skopeo.oci.tar:v1", "s6"],
    );
    same_top(&u, &a);
    // A docker-save archive, copied by skopeo into a layout, unpacks into the same chain.
    docker_archive(d);
    tool(
        d,
        "skopeo",
        &["copy", "docker-archive:saved.tar", "oci:fromdocker:v1"],
    );
    let u = json_of(d, &["unpack", "--json", "oci:fromdocker:v1", "s3"]);
    assert_eq!(u["imported"].as_u64(), Some(2));
    let direct = json_of(d, &["unpack", "--json", "docker-archive:saved.tar", "s4"]);
    same_top(&u, &direct);
    // skopeo copies a layout to a layout, and wclayer builds on the copy.
    tool(d, "skopeo", &["copy", "oci:fromdocker:v1", "oci:again:v1"]);
    ok(
        d,
        &[
            "build",
            "--base",
            "oci:again:v1",
            "--layer",
            "delta.tar.gz",
            "-o",
            "oci:again:v2",
        ],
    );
    tool(d, "skopeo", &["inspect", "oci:again:v2"]);
    let text = stdout_of(&["inspect", &format!("oci:{}:v2", s(&d.join("again")))]);
    assert!(text.contains("3 history entries"), "{text}");
}
