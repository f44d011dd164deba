//! `docker://`: images pushed to and pulled from a real registry (the CNCF distribution
//! registry, Debian's `docker-registry`), started by each test on a free loopback port and
//! killed at its end: plain HTTP, TLS with basic auth, and skopeo on the other side.
//! CI sets `WCLAYER_TEST_REQUIRE_REGISTRY`, and then a missing binary fails the test.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use base64::Engine as _;
use serde_json::{Value, json};

use super::images::{
    diff_ids_of, failed, found_or_skip, have, hello_layer, image_of, json_of, ok, read_json, run,
    set_image, tool, two_images,
};
use super::wclayer;

/// A registry process, killed when dropped.
struct Registry {
    child: Child,
    port: u16,
    data: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// `127.0.0.1:PORT/NAME`.
    fn at(&self, name: &str) -> String {
        format!("docker://127.0.0.1:{}/{name}", self.port)
    }

    /// The file of blob `digest` in the registry's storage.
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.data
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

/// Whether the registry binary (and `tools`) are there; with `WCLAYER_TEST_REQUIRE_REGISTRY`
/// set, their absence fails the test.
fn available(tools: &[&str]) -> bool {
    for t in std::iter::once(&"docker-registry").chain(tools) {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .is_ok_and(|o| o.status.success());
        let package = "docker-registry apache2-utils openssl";
        if !found_or_skip(found, t, "WCLAYER_TEST_REQUIRE_REGISTRY", package) {
            return false;
        }
    }
    true
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a registry storing into `dir/data`, with `extra` YAML (under `http:` when it
/// starts with two spaces, else at the top level).
fn start(dir: &Path, http_extra: &str, top_extra: &str) -> Registry {
    let port = free_port();
    let data = dir.join("data");
    let config = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
         delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{http_extra}{top_extra}",
        data.display()
    );
    let cfg = dir.join("registry.yml");
    std::fs::write(&cfg, config).unwrap();
    let log = std::fs::File::create(dir.join("registry.log")).unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let r = Registry { child, port, data };
    // Until it listens (or gives up after a long while, naming its log).
    for _ in 0..400 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return r;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!(
        "the registry did not start: {}",
        std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
    );
}

/// The JSON of a command run with `env` set.
fn json_env(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Value {
    let out = run_env(dir, env, args);
    assert!(
        out.status.success(),
        "wclayer {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run_env(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = wclayer();
    c.current_dir(dir)
        .env("DOCKER_CONFIG", dir.join("no-docker-config"));
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args).output().unwrap()
}

/// The actions of a `push --json`, blob by blob.
fn actions(pushed: &Value) -> Vec<(String, String)> {
    pushed["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["digest"].as_str().unwrap().to_string(),
                b["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The directories in a store's `layers/sha256`.
fn layer_dirs(store: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store.join("layers/sha256"))
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A plain-HTTP registry and a directory with the two sample images (`oci:base:v1`,
/// `oci:app:v1`), or `None` when the registry is not installed.
fn plain() -> Option<(Registry, tempfile::TempDir)> {
    if !available(&[]) {
        return None;
    }
    let t = tempfile::tempdir().unwrap();
    let reg = start(t.path(), "", "");
    two_images(t.path());
    Some((reg, t))
}

#[test]
fn images_pushed_to_a_registry_pull_unpack_and_export_with_the_same_diff_ids() {
    let Some((reg, t)) = plain() else { return };
    let d = t.path();
    let (manifest, config) = image_of(&d.join("app"));
    let diff_ids = diff_ids_of(&config);
    let base_blob = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();

    // The base, then the app mounting the base layer from the base's repository.
    let base = json_of(d, &["push", "--json", "oci:base:v1", &reg.at("base:v1")]);
    assert_eq!(base["uploaded"], 2, "{base}");
    let app = json_of(
        d,
        &[
            "push",
            "--json",
            "--mount-from",
            "base",
            "oci:app:v1",
            &reg.at("app:v1"),
        ],
    );
    assert!(
        actions(&app).contains(&(base_blob.clone(), "mounted".into())),
        "{app}"
    );
    assert_eq!(
        (app["mounted"].as_u64(), app["uploaded"].as_u64()),
        (Some(1), Some(2))
    );
    let index = read_json(&d.join("app/index.json"));
    assert_eq!(app["digest"], index["manifests"][0]["digest"]);
    // Again: every blob is there, skipped.
    let again = ok(d, &["push", "oci:app:v1", &reg.at("app:v1")]);
    assert!(
        again.contains(&format!("blob {base_blob} "))
            && again.contains("exists in the registry, skipped"),
        "{again}"
    );
    assert!(
        again.contains("0 blobs uploaded, 0 mounted, 3 skipped"),
        "{again}"
    );

    // Pulled into a clean store: both layers imported, each exports with its diffID.
    let info = ok(d, &["inspect", &reg.at("app:v1")]);
    assert!(info.contains(&diff_ids[1]), "{info}");
    let u = json_of(d, &["unpack", "--json", &reg.at("app:v1"), "store"]);
    assert_eq!(
        (u["imported"].as_u64(), u["reused"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(u["manifest"], app["digest"]);
    let top = u["top"].as_str().unwrap().to_string();
    let parent = u["parents"][0].as_str().unwrap().to_string();
    for (dir, want) in [(&parent, &diff_ids[0]), (&top, &diff_ids[1])] {
        let e = json_of(d, &["export", "--json", "-o", "x.tar", "--force", dir]);
        assert_eq!(&e["diff_id"], want, "{dir}");
    }

    // A second image on the same base, built over the pulled base: its push mounts the
    // base layer (from the base the layout names, without --mount-from), its unpack reuses
    // the stored base layer.
    hello_layer(d, &parent, "app2.tar.gz");
    ok(
        d,
        &[
            "build",
            "--base",
            &reg.at("base:v1"),
            "--layer",
            "app2.tar.gz",
            "-o",
            "oci:app2:v1",
        ],
    );
    let app2 = ok(d, &["push", "oci:app2:v1", &reg.at("app2:v1")]);
    assert!(
        app2.contains(&format!("blob {base_blob} ")) && app2.contains("mounted from base"),
        "{app2}"
    );
    let u2 = ok(d, &["unpack", &reg.at("app2:v1"), "store"]);
    assert!(u2.contains("reused layer 1/2"), "{u2}");
    assert!(u2.contains("2 layers, 1 imported, 1 reused"), "{u2}");

    // Built straight into the registry: the base layer mounted from the base's repository.
    let build_on_base = |out: &str| {
        json_of(
            d,
            &[
                "build",
                "--json",
                "--base",
                &reg.at("base:v1"),
                "--layer",
                "app2.tar.gz",
                "-o",
                out,
            ],
        )
    };
    let b = build_on_base(&reg.at("app3:v1"));
    assert!(
        actions(&b["push"]).contains(&(base_blob.clone(), "mounted".into())),
        "{b}"
    );
    assert_eq!(b["push"]["digest"], b["manifest"]);
    // Nothing of the base was downloaded to build it: its blob stayed in the registry.
    assert_eq!(
        (b["copied"].as_u64(), b["left"].as_u64()),
        (Some(0), Some(1))
    );

    // Into another registry: no mount there, so the base's blob is streamed from the base's
    // registry into the upload, and the image pulls back whole.
    let other_dir = tempfile::tempdir().unwrap();
    let other = start(other_dir.path(), "", "");
    let o = build_on_base(&other.at("app4:v1"));
    assert_eq!(
        (o["copied"].as_u64(), o["left"].as_u64()),
        (Some(0), Some(1))
    );
    assert!(
        actions(&o["push"]).contains(&(base_blob.clone(), "uploaded".into())),
        "{o}"
    );
    let u4 = json_of(d, &["unpack", "--json", &other.at("app4:v1"), "store4"]);
    assert_eq!(u4["layers"][0]["diff_id"], json!(diff_ids[0]));
    assert_eq!(u4["imported"].as_u64(), Some(2));
    // Into an archive: the base's blob streamed from the registry into it.
    let a = build_on_base("docker-archive:fromreg.tar:win/app:v5");
    assert_eq!(
        (a["copied"].as_u64(), a["left"].as_u64()),
        (Some(0), Some(1))
    );
    let u5 = json_of(
        d,
        &["unpack", "--json", "docker-archive:fromreg.tar", "store5"],
    );
    assert_eq!(u5["layers"][0]["diff_id"], json!(diff_ids[0]));
    super::images::same_top(&u5, &u4);
    let u3 = json_of(d, &["unpack", "--json", &reg.at("app3:v1"), "store"]);
    assert_eq!(
        (u3["imported"].as_u64(), u3["reused"].as_u64()),
        (Some(0), Some(2))
    );

    // A large blob goes in PATCH chunks and comes back the same.
    let chunked = json_of(
        d,
        &[
            "push",
            "--json",
            "--chunk-size",
            "1",
            "oci:base:v1",
            &reg.at("chunked:v1"),
        ],
    );
    assert_eq!(chunked["uploaded"], 2, "{chunked}");
    let text = ok(
        d,
        &[
            "push",
            "--chunk-size",
            "1",
            "oci:base:v1",
            &reg.at("chunked2:v1"),
        ],
    );
    assert!(text.contains("uploaded in 4 chunks"), "{text}");
    let u3 = json_of(d, &["unpack", "--json", &reg.at("chunked:v1"), "store3"]);
    assert_eq!(u3["layers"][0]["diff_id"], json!(diff_ids[0]));
}

#[test]
fn bad_blobs_and_documents_in_a_registry_fail_naming_the_image_and_the_layer() {
    let Some((reg, t)) = plain() else { return };
    let d = t.path();
    ok(d, &["push", "oci:app:v1", &reg.at("app:v1")]);
    let (manifest, _) = image_of(&d.join("app"));
    let delta_blob = manifest["layers"][1]["digest"]
        .as_str()
        .unwrap()
        .to_string();

    // No image for the platform.
    let out = run(
        d,
        &[
            "unpack",
            "--platform",
            "windows/arm64",
            &reg.at("app:v1"),
            "s0",
        ],
    );
    failed(
        &out,
        &[
            &reg.at("app:v1"),
            "no image for platform windows/arm64",
            "windows/amd64",
        ],
    );
    assert!(!d.join("s0").exists());
    // No such tag.
    let out = run(d, &["inspect", &reg.at("app:v2")]);
    failed(&out, &["app:v2", "no manifest v2"]);

    // A blob changed in the registry's storage: the base layer stays, the delta is refused.
    let file = reg.blob_file(&delta_blob);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let out = run(d, &["unpack", &reg.at("app:v1"), "s1"]);
    failed(
        &out,
        &[&reg.at("app:v1"), &format!("layer 2 ({delta_blob})")],
    );
    assert_eq!(
        layer_dirs(&d.join("s1")).len(),
        1,
        "only the base layer stays"
    );

    // A config whose diffID is wrong.
    let (mut m, mut c) = image_of(&d.join("base"));
    c["rootfs"]["diff_ids"][0] = json!(format!("sha256:{}", "0".repeat(64)));
    set_image(&d.join("base"), &mut m, Some(&c));
    ok(d, &["push", "oci:base:v1", &reg.at("wrong:v1")]);
    let out = run(d, &["unpack", &reg.at("wrong:v1"), "s2"]);
    failed(&out, &[&reg.at("wrong:v1"), "layer 1", "diffID"]);
    assert!(
        layer_dirs(&d.join("s2")).is_empty(),
        "no half-imported layer"
    );

    // A config over the 4 MiB limit of documents.
    let (mut m, mut c) = image_of(&d.join("base"));
    c["padding"] = json!("x".repeat(5 << 20));
    set_image(&d.join("base"), &mut m, Some(&c));
    ok(d, &["push", "oci:base:v1", &reg.at("big:v1")]);
    let out = run(d, &["inspect", &reg.at("big:v1")]);
    failed(
        &out,
        &[&reg.at("big:v1"), "the config", "larger than 4194304 bytes"],
    );

    // A manifest over the limit: refused by the registry when pushed, or by wclayer when
    // pulled (the registry's own limit depends on its version).
    let (mut m, _) = image_of(&d.join("app"));
    m["annotations"] = json!({"padding": "x".repeat(5 << 20)});
    set_image(&d.join("app"), &mut m, None);
    let pushed = run(d, &["push", "oci:app:v1", &reg.at("bigm:v1")]);
    if pushed.status.success() {
        let out = run(d, &["inspect", &reg.at("bigm:v1")]);
        failed(
            &out,
            &[
                &reg.at("bigm:v1"),
                "the manifest",
                "larger than 4194304 bytes",
            ],
        );
    } else {
        // wclayer reads its own layout with the same limit before sending anything.
        failed(&pushed, &["oci:app:v1", "larger than 4194304 bytes"]);
    }
}

/// A CA and a certificate for 127.0.0.1 signed by it, made with openssl.
fn certificates(d: &Path) {
    let sh = |script: &str| tool(d, "sh", &["-c", script]);
    sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=wclayer-test-ca \
        -keyout ca.key -out ca.pem 2>/dev/null",
    );
    sh(
        "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key \
        -out server.csr 2>/dev/null",
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    sh(
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile ext.cnf -out server.pem 2>/dev/null",
    );
}

#[test]
fn a_tls_registry_with_basic_auth_takes_credentials_from_flags_environment_and_docker_config() {
    if !available(&["openssl", "htpasswd"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    certificates(d);
    let hash = tool(d, "htpasswd", &["-Bbn", "alice", "s3cret"]);
    std::fs::write(d.join("htpasswd"), hash).unwrap();
    let reg = start(
        d,
        &format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            d.join("server.pem").display(),
            d.join("server.key").display()
        ),
        &format!(
            "auth:\n  htpasswd:\n    realm: wclayer-test\n    path: {}\n",
            d.join("htpasswd").display()
        ),
    );
    two_images(d);
    let ca = d.join("ca.pem").display().to_string();
    let at = reg.at("app:v1");

    // Without the CA: the certificate is refused (never downgraded to plain HTTP).
    let out = run_env(
        d,
        &[],
        &["push", "--creds", "alice:s3cret", "oci:app:v1", &at],
    );
    let line = failed(&out, &[&at]);
    assert!(
        line.to_lowercase().contains("certificate") || line.contains("HTTPS"),
        "{line}"
    );
    // Without credentials, and with wrong ones.
    let out = run_env(d, &[], &["push", "--ca-cert", &ca, "oci:app:v1", &at]);
    failed(&out, &[&at, "needs credentials", "--creds"]);
    let out = run_env(
        d,
        &[],
        &[
            "push",
            "--ca-cert",
            &ca,
            "--creds",
            "alice:nope",
            "oci:app:v1",
            &at,
        ],
    );
    failed(&out, &[&at, "refused the credentials"]);

    // --creds.
    let p = json_env(
        d,
        &[],
        &[
            "push",
            "--json",
            "--ca-cert",
            &ca,
            "--creds",
            "alice:s3cret",
            "oci:app:v1",
            &at,
        ],
    );
    assert_eq!(p["uploaded"], 3, "{p}");
    // The environment.
    let env = [
        ("WCLAYER_REGISTRY_USER", "alice"),
        ("WCLAYER_REGISTRY_PASSWORD", "s3cret"),
    ];
    let u = json_env(
        d,
        &env,
        &["unpack", "--json", "--ca-cert", &ca, &at, "store"],
    );
    assert_eq!(u["imported"], 2);
    assert_eq!(u["manifest"], p["digest"]);
    // The Docker config file: DOCKER_CONFIG, and --docker-config.
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    std::fs::create_dir_all(d.join("dc")).unwrap();
    let cfg = json!({"auths": {format!("127.0.0.1:{}", reg.port): {"auth": auth}}});
    std::fs::write(d.join("dc/config.json"), cfg.to_string()).unwrap();
    let dc = d.join("dc").display().to_string();
    let info = json_env(
        d,
        &[("DOCKER_CONFIG", &dc)],
        &["inspect", "--json", "--ca-cert", &ca, &at],
    );
    assert_eq!(info["manifest"]["digest"], p["digest"]);
    let cfg_file = d.join("dc/config.json").display().to_string();
    let info = json_env(
        d,
        &[],
        &[
            "inspect",
            "--json",
            "--ca-cert",
            &ca,
            "--docker-config",
            &cfg_file,
            &at,
        ],
    );
    assert_eq!(info["manifest"]["digest"], p["digest"]);
}

#[test]
fn skopeo_copies_through_the_registry_both_ways() {
    if !available(&[]) || !have("skopeo") || !have("umoci") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let reg = start(d, "", "");
    two_images(d);
    let (_, config) = image_of(&d.join("app"));
    let port = reg.port;

    // skopeo pushes, wclayer pulls.
    tool(
        d,
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "oci:app:v1",
            &format!("docker://127.0.0.1:{port}/sk:v1"),
        ],
    );
    let u = json_of(d, &["unpack", "--json", &reg.at("sk:v1"), "store"]);
    assert_eq!(u["imported"], 2);
    assert_eq!(u["layers"][1]["diff_id"], config["rootfs"]["diff_ids"][1]);

    // wclayer pushes, skopeo pulls, umoci reads.
    let p = json_of(d, &["push", "--json", "oci:app:v1", &reg.at("wc:v1")]);
    tool(
        d,
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            &format!("docker://127.0.0.1:{port}/wc:v1"),
            "oci:other:v1",
        ],
    );
    let stat = tool(d, "umoci", &["stat", "--image", "other:v1"]);
    assert!(stat.contains("wclayer build"), "{stat}");
    let index = read_json(&d.join("other/index.json"));
    assert_eq!(index["manifests"][0]["digest"], p["digest"]);
}

/// A token issuer for the registry's `auth: token:`: grants what a request's scopes ask to
/// `alice:s3cret` (basic auth) and nothing to anyone else; tokens are JWTs signed (RS256, by
/// openssl) with the key whose self-signed certificate is their `x5c` and the registry's
/// `rootcertbundle`. Returns its port.
fn token_issuer(d: &Path) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    tool(
        d,
        "sh",
        &[
            "-c",
            "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=wclayer-token \
             -keyout token.key -out token.pem 2>/dev/null && \
             openssl x509 -in token.pem -outform DER -out token.der",
        ],
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let x5c = b64.encode(std::fs::read(d.join("token.der")).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = d.to_path_buf();
    let good = format!("Basic {}", b64.encode("alice:s3cret"));
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let mut authorized = false;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':')
                    && k.eq_ignore_ascii_case("authorization")
                {
                    authorized = v.trim() == good;
                }
            }
            let query = line
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.split_once('?'))
                .map(|(_, q)| q.to_string())
                .unwrap_or_default();
            let access: Vec<Value> = query
                .split('&')
                .filter_map(|kv| kv.strip_prefix("scope="))
                .map(|s| {
                    s.replace("%3A", ":")
                        .replace("%2F", "/")
                        .replace("%2C", ",")
                })
                .filter(|_| authorized)
                .filter_map(|s| {
                    let (kind, rest) = s.split_once(':')?;
                    let (name, actions) = rest.rsplit_once(':')?;
                    Some(json!({"type": kind, "name": name,
                        "actions": actions.split(',').collect::<Vec<_>>()}))
                })
                .collect();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
            let claims = json!({"iss": "wclayer-test-issuer", "sub": "alice",
                "aud": "wclayer-test", "exp": now + 600, "nbf": now - 60, "iat": now - 60,
                "jti": format!("t{n}"), "access": access});
            let signed = format!(
                "{}.{}",
                url.encode(header.to_string()),
                url.encode(claims.to_string())
            );
            let input = dir.join(format!("jwt-{n}"));
            std::fs::write(&input, &signed).unwrap();
            let sig = Command::new("openssl")
                .args(["dgst", "-sha256", "-binary", "-sign"])
                .arg(dir.join("token.key"))
                .arg(&input)
                .output()
                .unwrap()
                .stdout;
            let body = json!({"token": format!("{signed}.{}", url.encode(sig))}).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn a_registry_with_token_auth_gives_bearer_tokens_for_the_scopes_asked() {
    if !available(&["openssl"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let issuer = token_issuer(d);
    let reg = start(
        d,
        "",
        &format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{issuer}/token\n    service: \
             wclayer-test\n    issuer: wclayer-test-issuer\n    rootcertbundle: {}\n",
            d.join("token.pem").display()
        ),
    );
    two_images(d);
    let at = reg.at("app:v1");
    // Anonymous: a token without access, refused.
    let out = run_env(d, &[], &["push", "oci:base:v1", &reg.at("base:v1")]);
    failed(&out, &[&reg.at("base:v1"), "needs credentials"]);
    let creds = ["--creds", "alice:s3cret"];
    let p = json_env(
        d,
        &[],
        &[
            &["push", "--json"][..],
            &creds,
            &["oci:base:v1", &reg.at("base:v1")],
        ]
        .concat(),
    );
    assert_eq!(p["uploaded"], 2, "{p}");
    // The mount needs pull on the other repository too: both scopes are asked for.
    let p = json_env(
        d,
        &[],
        &[
            &["push", "--json", "--mount-from", "base"][..],
            &creds,
            &["oci:app:v1", &at],
        ]
        .concat(),
    );
    assert_eq!(
        (p["mounted"].as_u64(), p["uploaded"].as_u64()),
        (Some(1), Some(2)),
        "{p}"
    );
    let u = json_env(
        d,
        &[],
        &[&["unpack", "--json"][..], &creds, &[&at, "store"]].concat(),
    );
    assert_eq!(u["imported"], 2);
    assert_eq!(u["manifest"], p["digest"]);
}
