//! Platforms: `os/architecture[/variant][:os.version prefix]`, as `--platform` takes them,
//! and the platform of an index entry or a config.

use std::fmt;

/// A platform an index entry or a config names.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Platform {
    /// `windows`, `linux`, ...
    pub os: String,
    /// `amd64`, `arm64`, ...
    pub architecture: String,
    /// The CPU variant, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// `os.version` (Windows: `10.0.20348.2113`), when given.
    #[serde(rename = "os.version", skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        if let Some(v) = &self.os_version {
            write!(f, ":{v}")?;
        }
        Ok(())
    }
}

/// The platform asked for: `os/architecture[/variant]`, optionally `:` and a prefix of
/// `os.version` (whole dot-separated components: `10.0.20348` matches `10.0.20348.2113`,
/// not `10.0.203481`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformSpec {
    os: String,
    architecture: String,
    variant: Option<String>,
    os_version: Option<String>,
}

impl Default for PlatformSpec {
    /// `windows/amd64`.
    fn default() -> PlatformSpec {
        PlatformSpec {
            os: "windows".into(),
            architecture: "amd64".into(),
            variant: None,
            os_version: None,
        }
    }
}

impl fmt::Display for PlatformSpec {
    /// As `--platform` takes it: the same form as [`Platform`]'s.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_platform().fmt(f)
    }
}

impl std::str::FromStr for PlatformSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<PlatformSpec, String> {
        let bad = || {
            format!(
                "{s:?} is not a platform (OS/ARCH[/VARIANT][:OS.VERSION], e.g. windows/amd64 or \
                 windows/amd64:10.0.20348)"
            )
        };
        let (p, version) = match s.split_once(':') {
            Some((p, v)) => (p, Some(v)),
            None => (s, None),
        };
        let mut parts = p.split('/');
        let word = |w: Option<&str>| -> Result<String, String> {
            match w {
                Some(w)
                    if !w.is_empty()
                        && w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
                {
                    Ok(w.to_string())
                }
                _ => Err(bad()),
            }
        };
        let os = word(parts.next())?;
        let architecture = word(parts.next())?;
        let variant = parts.next().map(|v| word(Some(v))).transpose()?;
        if parts.next().is_some() {
            return Err(bad());
        }
        let os_version = match version {
            None => None,
            Some(v)
                if !v.is_empty()
                    && v.split('.')
                        .all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit())) =>
            {
                Some(v.to_string())
            }
            Some(_) => return Err(bad()),
        };
        Ok(PlatformSpec {
            os,
            architecture,
            variant,
            os_version,
        })
    }
}

impl PlatformSpec {
    /// The platform of a new image made from nothing but layers: this one, its `os.version`
    /// prefix as the whole version.
    #[must_use]
    pub fn to_platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
            os_version: self.os_version.clone(),
        }
    }

    /// Whether `p` is this platform.
    #[must_use]
    pub fn matches(&self, p: &Platform) -> bool {
        if p.os != self.os || p.architecture != self.architecture {
            return false;
        }
        if let Some(v) = &self.variant
            && p.variant.as_deref() != Some(v.as_str())
        {
            return false;
        }
        match (&self.os_version, &p.os_version) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(want), Some(have)) => match have.strip_prefix(want.as_str()) {
                Some(rest) => rest.is_empty() || rest.starts_with('.'),
                None => false,
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn p(os: &str, arch: &str, v: Option<&str>) -> Platform {
        Platform {
            os: os.into(),
            architecture: arch.into(),
            variant: None,
            os_version: v.map(Into::into),
        }
    }

    #[test]
    fn platforms_parse_and_match() {
        let d = PlatformSpec::default();
        assert_eq!(d.to_string(), "windows/amd64");
        assert!(d.matches(&p("windows", "amd64", Some("10.0.20348.1"))));
        assert!(!d.matches(&p("linux", "amd64", None)));
        let v: PlatformSpec = "windows/amd64:10.0.20348".parse().unwrap();
        assert!(v.matches(&p("windows", "amd64", Some("10.0.20348.2113"))));
        assert!(v.matches(&p("windows", "amd64", Some("10.0.20348"))));
        assert!(!v.matches(&p("windows", "amd64", Some("10.0.203481.1"))));
        assert!(!v.matches(&p("windows", "amd64", Some("10.0.17763.1"))));
        assert!(!v.matches(&p("windows", "amd64", None)));
        let arm: PlatformSpec = "linux/arm64/v8".parse().unwrap();
        assert_eq!(arm.to_string(), "linux/arm64/v8");
        for bad in [
            "",
            "windows",
            "windows/",
            "/amd64",
            "a/b/c/d",
            "windows/amd64:",
            "windows/amd64:10..0",
            "windows/amd64:x",
            "win dows/amd64",
        ] {
            assert!(bad.parse::<PlatformSpec>().is_err(), "{bad:?}");
        }
    }
}
