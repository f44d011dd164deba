//! Windows container images: read OCI image layouts (`oci:DIR[:TAG]`) and `docker save`
//! archives (`docker-archive:FILE[:REF]`), unpack an image's chain of layers into a store of
//! layer directories, build a new image from a base image and new layers, and write it as an
//! OCI image layout.
//!
//! This crate knows manifests, configs and layouts, and calls the `wclayer` facade for the
//! layers; the layer crates know nothing of images. The store's layout and every check are
//! described in `docs/images.md`.
//!
//! - [`ImageRef`] names an image, [`Source`] opens it and [`Source::resolve`] picks the
//!   manifest (by tag and platform) and reads and checks its config: an [`Image`].
//! - [`store::Store`] keeps layers content-addressed by chain ID;
//!   [`store::Store::unpack`] imports an image's layers, each in one streaming pass, and
//!   reuses those already there.
//! - [`build::build`] writes a new image: the base's blobs copied as they are, the new layers
//!   appended.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::io;
use std::path::PathBuf;

pub mod archive;
pub mod build;
pub mod digest;
pub mod doc;
pub mod guard;
pub mod layout;
pub mod media;
pub mod platform;
pub mod registry;
pub mod source;
pub mod store;

pub use digest::Digest;
pub use platform::{Platform, PlatformSpec};
pub use source::{Image, Layer, Source};

/// An error of reading, unpacking or building an image; the message names the image, the
/// document or the layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{context}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A reference, document or layer is not what an image needs; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// A layer could not be imported or exported.
    #[error("{context}")]
    Layer {
        /// Which image and layer.
        context: String,
        /// The cause.
        #[source]
        source: Box<wclayer::Error>,
    },
}

impl Error {
    /// An I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The same error with `prefix: ` before its message.
    #[must_use]
    pub fn context(self, prefix: &str) -> Error {
        match self {
            Error::Io { context, source } => Error::Io {
                context: format!("{prefix}: {context}"),
                source,
            },
            Error::Invalid(m) => Error::Invalid(format!("{prefix}: {m}")),
            Error::Layer { context, source } => Error::Layer {
                context: format!("{prefix}: {context}"),
                source,
            },
        }
    }
}

/// Opens the file `path` as the user named it: its directory with the process's authority,
/// the file beneath it (never a symbolic link, FIFO or device).
pub(crate) fn open_user_file(path: &std::path::Path) -> Result<std::fs::File, Error> {
    let shown = path.display();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{shown}: not a file name")))?;
    wclayer::crates::fs::Dir::open_ambient_dir(dir, wclayer::crates::fs::ambient_authority())
        .and_then(|d| d.open_file(name))
        .map_err(|e| Error::io(format!("cannot open {shown}"), e))
}

/// Where an image is: an OCI image layout or a `docker save` archive, as skopeo names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRef {
    /// `oci:DIR[:TAG]`: the layout in `DIR`, the manifest tagged `TAG`
    /// (`org.opencontainers.image.ref.name`), or its only one.
    Oci {
        /// The layout directory.
        dir: PathBuf,
        /// The tag.
        tag: Option<String>,
    },
    /// `docker-archive:FILE[:REF]`: the archive `FILE`, the image tagged `REF` (`name:tag`)
    /// or numbered `@N` (from 0), or its only one.
    DockerArchive {
        /// The archive.
        file: PathBuf,
        /// The image in it.
        reference: Option<String>,
    },
    /// `oci-archive:FILE[:TAG]`: an OCI image layout in the tar `FILE` (as skopeo and
    /// `wclayer build -o oci-archive:` write it), the manifest tagged `TAG`, or its only one.
    OciArchive {
        /// The archive.
        file: PathBuf,
        /// The tag.
        tag: Option<String>,
    },
    /// `docker://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]`: an image in a registry.
    Docker(registry::RegistryRef),
}

impl ImageRef {
    /// Parses `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]` or
    /// `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`.
    ///
    /// # Errors
    /// Another transport, an empty path or tag.
    pub fn parse(s: &str) -> Result<ImageRef, Error> {
        let bad = |why: &str| {
            Error::Invalid(format!(
                "{s:?} is no image reference ({why}): give oci:DIR[:TAG], \
                 oci-archive:FILE[:TAG], docker-archive:FILE[:REF] or docker://HOST/REPO[:TAG]"
            ))
        };
        let (transport, rest) = s.split_once(':').ok_or_else(|| bad("no transport"))?;
        match transport {
            "oci" | "oci-archive" => {
                let (path, tag) = split_last(rest);
                if path.is_empty() {
                    return Err(bad(if transport == "oci" {
                        "no directory"
                    } else {
                        "no file"
                    }));
                }
                if let Some(t) = tag
                    && !valid_tag(t)
                {
                    return Err(bad("the tag may have letters, digits, and . _ - : @ / +"));
                }
                let tag = tag.map(str::to_string);
                Ok(if transport == "oci" {
                    ImageRef::Oci {
                        dir: PathBuf::from(path),
                        tag,
                    }
                } else {
                    ImageRef::OciArchive {
                        file: PathBuf::from(path),
                        tag,
                    }
                })
            }
            "docker-archive" => {
                // A reference `name:tag` has a colon itself: the path ends at the first one
                // after which the rest parses as a reference.
                let (file, reference) = match rest.split_once(':') {
                    Some((f, r)) if !r.is_empty() => (f, Some(r)),
                    Some((f, _)) => (f, None),
                    None => (rest, None),
                };
                if file.is_empty() {
                    return Err(bad("no file"));
                }
                Ok(ImageRef::DockerArchive {
                    file: PathBuf::from(file),
                    reference: reference.map(str::to_string),
                })
            }
            "docker" => match rest.strip_prefix("//") {
                Some(r) => Ok(ImageRef::Docker(registry::RegistryRef::parse(r)?)),
                None => Err(bad("a registry image is docker://HOST/REPO[:TAG]")),
            },
            "containers-storage" | "dir" | "docker-daemon" => Err(bad(
                "wclayer reads images from OCI layouts and archives, docker-save archives and \
                 registries; copy it into one with skopeo first",
            )),
            _ => Err(bad("unknown transport")),
        }
    }
}

/// `DIR:TAG` split at its last colon, when what follows it is a tag (no `/`).
fn split_last(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once(':') {
        Some((d, t)) if !t.is_empty() && !t.contains('/') => (d, Some(t)),
        Some((d, "")) => (d, None),
        _ => (s, None),
    }
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:@/+".contains(&b))
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Oci { dir, tag } => {
                write!(f, "oci:{}", dir.display())?;
                if let Some(t) = tag {
                    write!(f, ":{t}")?;
                }
                Ok(())
            }
            ImageRef::OciArchive { file, tag } => {
                write!(f, "oci-archive:{}", file.display())?;
                if let Some(t) = tag {
                    write!(f, ":{t}")?;
                }
                Ok(())
            }
            ImageRef::DockerArchive { file, reference } => {
                write!(f, "docker-archive:{}", file.display())?;
                if let Some(r) = reference {
                    write!(f, ":{r}")?;
                }
                Ok(())
            }
            ImageRef::Docker(r) => r.fmt(f),
        }
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(
            ImageRef::parse("oci:/tmp/l:v1").unwrap(),
            ImageRef::Oci {
                dir: "/tmp/l".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            ImageRef::parse("oci:l").unwrap(),
            ImageRef::Oci {
                dir: "l".into(),
                tag: None
            }
        );
        assert_eq!(
            ImageRef::parse("docker-archive:x.tar:mcr.microsoft.com/windows:ltsc2022").unwrap(),
            ImageRef::DockerArchive {
                file: "x.tar".into(),
                reference: Some("mcr.microsoft.com/windows:ltsc2022".into())
            }
        );
        assert_eq!(
            ImageRef::parse("docker-archive:x.tar").unwrap().to_string(),
            "docker-archive:x.tar"
        );
        assert_eq!(
            ImageRef::parse("oci:/tmp/l:v1").unwrap().to_string(),
            "oci:/tmp/l:v1"
        );
        assert_eq!(
            ImageRef::parse("oci-archive:/tmp/x.tar:v1").unwrap(),
            ImageRef::OciArchive {
                file: "/tmp/x.tar".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            ImageRef::parse("oci-archive:x.tar").unwrap().to_string(),
            "oci-archive:x.tar"
        );
        assert_eq!(
            ImageRef::parse("docker://mcr.microsoft.com/windows/nanoserver:ltsc2022")
                .unwrap()
                .to_string(),
            "docker://mcr.microsoft.com/windows/nanoserver:ltsc2022"
        );
        for bad in [
            "",
            "oci:",
            "x.tar",
            "docker:mcr.microsoft.com/x",
            "docker://",
            "dir:/tmp/x",
            "oci::t",
            "oci:d:t t",
            "docker-archive:",
            "oci-archive:",
            "oci-archive::v1",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }
}
