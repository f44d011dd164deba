//! `docker://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]`, skopeo's name for an image in a
//! registry; Docker Hub's short names (`docker://nanoserver`, `docker://user/app:1`) too.

use std::fmt;

use crate::Error;
use crate::digest::Digest;

/// Docker Hub's name in references and in the Docker config file.
pub const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's distribution API is served from.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// An image in a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryRef {
    /// `HOST[:PORT]` as given (`docker.io` for Docker Hub's short names).
    pub registry: String,
    /// The repository (`windows/nanoserver`; Docker Hub's one-component names get
    /// `library/`).
    pub repository: String,
    /// The tag, when given.
    pub tag: Option<String>,
    /// The manifest digest, when given.
    pub digest: Option<Digest>,
}

impl RegistryRef {
    /// Parses what follows `docker://`.
    ///
    /// # Errors
    /// A malformed host, repository, tag or digest; the message says which.
    pub fn parse(s: &str) -> Result<RegistryRef, Error> {
        let bad = |why: &str| {
            Error::Invalid(format!(
                "\"docker://{s}\" is no registry reference ({why}): give \
                 docker://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]"
            ))
        };
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (
                n,
                Some(Digest::parse(d).map_err(|e| bad(&format!("digest: {e}")))?),
            ),
            None => (s, None),
        };
        let last_slash = name.rfind('/').map_or(0, |i| i.saturating_add(1));
        let (name, tag) = match name.get(last_slash..).and_then(|t| t.rfind(':')) {
            Some(i) => {
                let at = last_slash.saturating_add(i);
                (
                    name.get(..at).unwrap_or_default(),
                    name.get(at.saturating_add(1)..).map(str::to_string),
                )
            }
            None => (name, None),
        };
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(bad(
                "a tag has up to 128 letters, digits, _ . -, not first . or -",
            ));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((host, repo))
                if host.contains('.') || host.contains(':') || host == "localhost" =>
            {
                (host.to_string(), repo.to_string())
            }
            Some(_) => (DOCKER_HUB.to_string(), name.to_string()),
            None => (DOCKER_HUB.to_string(), format!("library/{name}")),
        };
        if !valid_host(&registry) {
            return Err(bad("the registry must be HOST or HOST:PORT"));
        }
        if !valid_repository(&repository) {
            return Err(bad(
                "a repository is lower-case components of letters and digits joined by . _ - \
                 and separated by /",
            ));
        }
        Ok(RegistryRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host the API is served from (Docker Hub's is not `docker.io`).
    #[must_use]
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// What to fetch the manifest by: the digest when given, else the tag (`latest` when
    /// neither is).
    #[must_use]
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The same image in another repository of the same registry.
    #[must_use]
    pub fn with_repository(&self, repository: &str) -> RegistryRef {
        RegistryRef {
            repository: repository.to_string(),
            ..self.clone()
        }
    }
}

impl RegistryRef {
    /// The reference without its scheme, as OCI annotations give image names:
    /// `HOST/REPO[:TAG][@DIGEST]` (read back by [`RegistryRef::parse`]).
    #[must_use]
    pub fn name(&self) -> String {
        let shown = self.to_string();
        shown
            .strip_prefix("docker://")
            .unwrap_or(&shown)
            .to_string()
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "docker://{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    (1..=128).contains(&b.len())
        && b.first()
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

fn valid_host(h: &str) -> bool {
    let (host, port) = match h.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => (host, Some(port)),
        _ => (h, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b".-[]:".contains(&c));
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0))
}

fn valid_repository(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 255
        && r.split('/').all(|c| {
            let b = c.as_bytes();
            b.first().is_some_and(u8::is_ascii_alphanumeric)
                && b.last().is_some_and(u8::is_ascii_alphanumeric)
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        let r = RegistryRef::parse("mcr.microsoft.com/windows/nanoserver:ltsc2022").unwrap();
        assert_eq!(r.registry, "mcr.microsoft.com");
        assert_eq!(r.repository, "windows/nanoserver");
        assert_eq!(r.tag.as_deref(), Some("ltsc2022"));
        assert_eq!(r.manifest_reference(), "ltsc2022");
        assert_eq!(
            r.to_string(),
            "docker://mcr.microsoft.com/windows/nanoserver:ltsc2022"
        );
        let r = RegistryRef::parse("127.0.0.1:5000/app").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.api_host(), "127.0.0.1:5000");
        assert_eq!(r.manifest_reference(), "latest");
        let d = format!("sha256:{}", "ab".repeat(32));
        let r = RegistryRef::parse(&format!("localhost:5000/a/b:v1@{d}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.manifest_reference(), d);
        let r = RegistryRef::parse("nanoserver").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.api_host()),
            ("docker.io", "library/nanoserver", DOCKER_HUB_API)
        );
        let r = RegistryRef::parse("user/app:1").unwrap();
        assert_eq!(r.repository, "user/app");
        assert_eq!(r.with_repository("x/y").repository, "x/y");
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in [
            "",
            "host.example/",
            "host.example/Upper",
            "host.example/a//b",
            "host.example/a:",
            "host.example/a:-x",
            "host.example:99999/a",
            "host.example:/a",
            "host.example/a@sha256:zz",
            "host.example/a@md5:00",
            "host.example/a_/b",
            "a b/c",
        ] {
            assert!(RegistryRef::parse(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,80}") {
            let _ = RegistryRef::parse(&s);
        }
    }
}
