//! Registry authentication as public registries do it: `WWW-Authenticate` challenges
//! (`Bearer realm=...,service=...,scope=...` and `Basic realm=...`), and where credentials
//! come from: `--creds USER:PASS`, `WCLAYER_REGISTRY_USER`/`WCLAYER_REGISTRY_PASSWORD`, the
//! Docker config file (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`: `auths`
//! entries with a base64 `auth` or `username`/`password`, `credHelpers` and `credsStore`).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::Value;

use crate::Error;
use crate::registry::reference::DOCKER_HUB;

/// A user name and password (or token) for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, <hidden>)", self.username)
    }
}

impl Credentials {
    /// Parses `USER:PASS` (the password may contain colons).
    ///
    /// # Errors
    /// Without a colon or with an empty user name.
    pub fn parse(s: &str) -> Result<Credentials, Error> {
        match s.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok(Credentials {
                username: u.to_string(),
                password: p.to_string(),
            }),
            _ => Err(Error::Invalid(
                "credentials are USER:PASSWORD, with a user name".to_string(),
            )),
        }
    }

    /// The `Authorization` header value of basic authentication.
    #[must_use]
    pub fn basic(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// A `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lower case (`bearer`, `basic`).
    pub scheme: String,
    /// Its parameters, names lower case.
    pub params: BTreeMap<String, String>,
}

/// Parses a `WWW-Authenticate` header: one or more challenges, each a scheme and
/// `name=value` or `name="quoted \" value"` parameters separated by commas.
///
/// # Errors
/// An unterminated quoted string or a parameter without a scheme.
pub fn parse_challenges(header: &str) -> Result<Vec<Challenge>, Error> {
    let bad = |why: &str| Error::Invalid(format!("WWW-Authenticate {header:?}: {why}"));
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        if rest.is_empty() {
            break;
        }
        let token_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let token = rest.get(..token_end).unwrap_or_default();
        let after = rest.get(token_end..).unwrap_or_default().trim_start();
        if let Some(value_part) = after.strip_prefix('=') {
            // A parameter of the current challenge.
            let value_part = value_part.trim_start();
            let (value, remaining) = if let Some(q) = value_part.strip_prefix('"') {
                let mut v = String::new();
                let mut chars = q.char_indices();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                v.push(n);
                            }
                        }
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        _ => v.push(c),
                    }
                }
                let end = end.ok_or_else(|| bad("a quoted string does not end"))?;
                (v, q.get(end.saturating_add(1)..).unwrap_or_default())
            } else {
                let e = value_part.find(',').unwrap_or(value_part.len());
                (
                    value_part.get(..e).unwrap_or_default().trim().to_string(),
                    value_part.get(e..).unwrap_or_default(),
                )
            };
            let current = out
                .last_mut()
                .ok_or_else(|| bad("a parameter comes before any scheme"))?;
            current.params.insert(token.to_ascii_lowercase(), value);
            rest = remaining;
        } else {
            if token.is_empty() {
                return Err(bad("an empty scheme"));
            }
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: BTreeMap::new(),
            });
            rest = after;
        }
    }
    Ok(out)
}

/// Where credentials for a registry come from, first found wins: the explicit ones, the
/// environment, the Docker config file.
#[derive(Clone, Debug, Default)]
pub struct CredentialSource {
    /// Given on the command line (`--creds`).
    pub explicit: Option<Credentials>,
    /// The Docker config file to read instead of the default one.
    pub docker_config: Option<PathBuf>,
}

/// The environment variables with a user name and password for every registry.
pub const ENV_USER: &str = "WCLAYER_REGISTRY_USER";
/// See [`ENV_USER`].
pub const ENV_PASSWORD: &str = "WCLAYER_REGISTRY_PASSWORD";

impl CredentialSource {
    /// The credentials for `registry` (`HOST[:PORT]` as in the reference), or `None`.
    ///
    /// # Errors
    /// A Docker config file that exists but cannot be read or parsed, a credential helper
    /// that fails.
    pub fn lookup(&self, registry: &str) -> Result<Option<Credentials>, Error> {
        if let Some(c) = &self.explicit {
            return Ok(Some(c.clone()));
        }
        if let (Ok(u), Ok(p)) = (std::env::var(ENV_USER), std::env::var(ENV_PASSWORD))
            && !u.is_empty()
        {
            return Ok(Some(Credentials {
                username: u,
                password: p,
            }));
        }
        let path = match &self.docker_config {
            Some(p) => p.clone(),
            None => match default_docker_config() {
                Some(p) => p,
                None => return Ok(None),
            },
        };
        let file = match crate::open_user_file(&path) {
            Ok(f) => f,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let what = path.display().to_string();
        let bytes = crate::doc::read_limited(file, &what)?;
        from_docker_config(&bytes, registry, &what, &run_helper)
    }
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn default_docker_config() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Some(Path::new(&d).join("config.json"));
    }
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"))?;
    Some(Path::new(&home).join(".docker").join("config.json"))
}

/// The key of an `auths` entry reduced to `HOST[:PORT]` (`https://index.docker.io/v1/` is
/// Docker Hub).
fn auth_key_host(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = k.split('/').next().unwrap_or(k);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_string()
        }
        h => h.to_string(),
    }
}

/// A credential helper: its name and the server, returning `(username, secret)`.
type Helper<'a> = dyn Fn(&str, &str) -> Result<Option<Credentials>, Error> + 'a;

/// The credentials for `registry` in a Docker config file's bytes.
///
/// # Errors
/// Invalid JSON, an `auth` entry that is no base64 `USER:PASS`, a helper that fails.
pub fn from_docker_config(
    bytes: &[u8],
    registry: &str,
    what: &str,
    helper: &Helper<'_>,
) -> Result<Option<Credentials>, Error> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::Invalid(format!("{what} is not valid: {e}")))?;
    let server = if registry == DOCKER_HUB {
        "https://index.docker.io/v1/"
    } else {
        registry
    };
    if let Some(name) = v
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|h| h.iter().find(|(k, _)| auth_key_host(k) == registry))
        .and_then(|(_, n)| n.as_str())
    {
        return helper(name, server);
    }
    if let Some(entry) = v
        .get("auths")
        .and_then(Value::as_object)
        .and_then(|a| a.iter().find(|(k, _)| auth_key_host(k) == registry))
        .map(|(_, e)| e)
    {
        let s = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if let Some(auth) = s("auth") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|e| {
                    Error::Invalid(format!("{what}: the auth of {registry} is not base64: {e}"))
                })?;
            let text = String::from_utf8(raw).map_err(|_| {
                Error::Invalid(format!("{what}: the auth of {registry} is not UTF-8"))
            })?;
            return Credentials::parse(&text)
                .map(Some)
                .map_err(|e| e.context(&format!("{what}: the auth of {registry}")));
        }
        if let (Some(u), Some(p)) = (s("username"), s("password")) {
            return Ok(Some(Credentials {
                username: u.to_string(),
                password: p.to_string(),
            }));
        }
    }
    if let Some(name) = v.get("credsStore").and_then(Value::as_str) {
        return helper(name, server);
    }
    Ok(None)
}

/// Runs `docker-credential-NAME get` with the server on stdin, as Docker does.
fn run_helper(name: &str, server: &str) -> Result<Option<Credentials>, Error> {
    let program = format!("docker-credential-{name}");
    let fail = |why: String| Error::Invalid(format!("the credential helper {program}: {why}"));
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(fail("not a helper name".into()));
    }
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| fail(format!("cannot write to it: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("cannot run it: {e}")))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout);
        // "credentials not found in native keychain": no credentials, not an error.
        if msg.contains("not found") {
            return Ok(None);
        }
        return Err(fail(format!("it failed: {}", msg.trim())));
    }
    let v: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| fail(format!("its answer is not JSON: {e}")))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
    if s("Username").is_empty() || s("Username") == "<token>" {
        return Ok(None);
    }
    Ok(Some(Credentials {
        username: s("Username").to_string(),
        password: s("Secret").to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].params["realm"], "https://auth.example/token");
        assert_eq!(c[0].params["service"], "registry.example");
        assert_eq!(c[0].params["scope"], "repository:a/b:pull,push");
        let c = parse_challenges(r#"Basic realm="a \"q\" b", Bearer realm=x,error=y"#).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].params["realm"], "a \"q\" b");
        assert_eq!(c[1].scheme, "bearer");
        assert_eq!(c[1].params["realm"], "x");
        assert_eq!(c[1].params["error"], "y");
        assert_eq!(parse_challenges("Basic").unwrap()[0].scheme, "basic");
        for bad in [r#"Bearer realm="x"#, "=x", "realm=x"] {
            assert!(parse_challenges(bad).is_err(), "{bad}");
        }
    }

    fn no_helper(_: &str, _: &str) -> Result<Option<Credentials>, Error> {
        panic!("no helper expected")
    }

    #[test]
    fn docker_config_entries() {
        let auth = base64::engine::general_purpose::STANDARD.encode("u:p:w");
        let cfg = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},
            "http://reg.example:5000/v2/":{{"username":"a","password":"b"}}}}}}"#
        );
        let c = from_docker_config(cfg.as_bytes(), "docker.io", "cfg", &no_helper)
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p:w"));
        let c = from_docker_config(cfg.as_bytes(), "reg.example:5000", "cfg", &no_helper)
            .unwrap()
            .unwrap();
        assert_eq!(c.username, "a");
        assert!(
            from_docker_config(cfg.as_bytes(), "other", "cfg", &no_helper)
                .unwrap()
                .is_none()
        );
        let helped = |name: &str, server: &str| {
            assert_eq!((name, server), ("pass", "reg.example"));
            Ok(Some(Credentials::parse("h:s").unwrap()))
        };
        let cfg = br#"{"credHelpers":{"reg.example":"pass"}}"#;
        let c = from_docker_config(cfg, "reg.example", "cfg", &helped).unwrap();
        assert_eq!(c.unwrap().username, "h");
        for bad in [
            &br#"{"auths":{"x":{"auth":"%%%"}}}"#[..],
            br#"{"auths":{"x":{"auth":"bm9jb2xvbg=="}}}"#,
            b"[",
        ] {
            assert!(from_docker_config(bad, "x", "cfg", &no_helper).is_err());
        }
        assert_eq!(
            Credentials::parse("u:p").unwrap().basic(),
            "Basic dTpw".to_string()
        );
        assert!(Credentials::parse(":p").is_err());
        assert!(!format!("{:?}", Credentials::parse("u:secret").unwrap()).contains("secret"));
    }

    proptest::proptest! {
        #[test]
        fn challenge_parsing_never_panics(s in "\\PC{0,80}") {
            let _ = parse_challenges(&s);
        }
        #[test]
        fn docker_config_parsing_never_panics(s in "\\PC{0,120}") {
            let _ = from_docker_config(s.as_bytes(), "x", "cfg", &|_, _| Ok(None));
        }
    }
}
