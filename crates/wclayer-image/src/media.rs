//! Media types of indexes, manifests, configs and layers, in their OCI and Docker names.

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker manifest list (schema 2).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest (schema 2).
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// The annotation naming a manifest in an OCI layout's `index.json` (its tag).
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation naming the image an image was built on (`HOST/REPO[:TAG][@DIGEST]`).
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// The annotation giving the digest of the manifest of the image an image was built on.
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// The compression of a layer blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

impl Compression {
    /// The compression the first bytes of a blob show (gzip and zstd magic), else none.
    #[must_use]
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// `r` decompressed (gzip: every member; zstd: every frame; none: as it is).
    ///
    /// # Errors
    /// When the zstd decoder cannot be set up.
    pub fn decoder<R: std::io::BufRead + Send + 'static>(
        self,
        r: R,
    ) -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Ok(match self {
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
            Compression::Zstd => Box::new(zstd::Decoder::with_buffer(r)?),
            Compression::None => Box::new(r),
        })
    }

    /// Its name in messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// What a layer media type says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerMedia {
    /// How the blob is compressed.
    pub compression: Compression,
    /// A foreign (Docker) or non-distributable (OCI) layer: its blob may live only at its
    /// `urls`.
    pub foreign: bool,
    /// A Docker media type.
    pub docker: bool,
}

/// The layer media types wclayer reads, and what each says.
const LAYERS: &[(&str, Compression, bool, bool)] = &[
    (
        "application/vnd.oci.image.layer.v1.tar",
        Compression::None,
        false,
        false,
    ),
    (
        "application/vnd.oci.image.layer.v1.tar+gzip",
        Compression::Gzip,
        false,
        false,
    ),
    (
        "application/vnd.oci.image.layer.v1.tar+zstd",
        Compression::Zstd,
        false,
        false,
    ),
    (
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        Compression::None,
        true,
        false,
    ),
    (
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        Compression::Gzip,
        true,
        false,
    ),
    (
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        Compression::Zstd,
        true,
        false,
    ),
    (
        "application/vnd.docker.image.rootfs.diff.tar",
        Compression::None,
        false,
        true,
    ),
    (
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        Compression::Gzip,
        false,
        true,
    ),
    (
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
        Compression::Zstd,
        false,
        true,
    ),
    (
        "application/vnd.docker.image.rootfs.foreign.diff.tar",
        Compression::None,
        true,
        true,
    ),
    (
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        Compression::Gzip,
        true,
        true,
    ),
];

/// What the layer media type `s` says, or `None` when it is no layer media type wclayer
/// knows.
#[must_use]
pub fn layer_media(s: &str) -> Option<LayerMedia> {
    LAYERS
        .iter()
        .find(|(name, ..)| *name == s)
        .map(|&(_, compression, foreign, docker)| LayerMedia {
            compression,
            foreign,
            docker,
        })
}

/// The media type of a new layer blob with `compression`, in Docker's names or OCI's.
///
/// # Errors
/// zstd in a Docker manifest: Docker schema 2 has no zstd layer type.
pub fn layer_media_type(compression: Compression, docker: bool) -> Result<&'static str, String> {
    Ok(match (compression, docker) {
        (Compression::None, false) => "application/vnd.oci.image.layer.v1.tar",
        (Compression::Gzip, false) => "application/vnd.oci.image.layer.v1.tar+gzip",
        (Compression::Zstd, false) => "application/vnd.oci.image.layer.v1.tar+zstd",
        (Compression::None, true) => "application/vnd.docker.image.rootfs.diff.tar",
        (Compression::Gzip, true) => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        (Compression::Zstd, true) => {
            return Err("a Docker schema 2 image has no zstd layer media type: \
                        use gzip, or an OCI base image"
                .into());
        }
    })
}

/// Whether `s` is an image index (OCI) or manifest list (Docker).
#[must_use]
pub fn is_index(s: &str) -> bool {
    s == OCI_INDEX || s == DOCKER_LIST
}

/// Whether `s` is an image manifest (OCI or Docker schema 2).
#[must_use]
pub fn is_manifest(s: &str) -> bool {
    s == OCI_MANIFEST || s == DOCKER_MANIFEST
}

/// Whether `s` is an image config (OCI or Docker).
#[must_use]
pub fn is_config(s: &str) -> bool {
    s == OCI_CONFIG || s == DOCKER_CONFIG
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    /// Each compression decodes what it names: gzip every member, zstd, none as it is.
    #[test]
    fn decoders_give_the_bytes_back() {
        use std::io::{Read, Write};
        let data = b"a layer tar".repeat(100);
        let mut gz = Vec::new();
        for half in data.chunks(data.len() / 2) {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(half).unwrap();
            gz.extend(e.finish().unwrap());
        }
        let zst = zstd::encode_all(&data[..], 3).unwrap();
        for (c, packed) in [
            (Compression::Gzip, gz),
            (Compression::Zstd, zst),
            (Compression::None, data.clone()),
        ] {
            assert_eq!(Compression::sniff(&packed), c);
            let mut got = Vec::new();
            c.decoder(std::io::Cursor::new(packed))
                .unwrap()
                .read_to_end(&mut got)
                .unwrap();
            assert_eq!(got, data, "{}", c.name());
        }
    }

    #[test]
    fn layer_media_types() {
        let f = layer_media("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip").unwrap();
        assert!(f.foreign && f.docker && f.compression == Compression::Gzip);
        let n =
            layer_media("application/vnd.oci.image.layer.nondistributable.v1.tar+zstd").unwrap();
        assert!(n.foreign && !n.docker && n.compression == Compression::Zstd);
        assert!(layer_media("application/vnd.oci.image.layer.v1.tar+xz").is_none());
        assert!(layer_media(OCI_CONFIG).is_none());
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let t = layer_media_type(c, false).unwrap();
            assert_eq!(layer_media(t).unwrap().compression, c);
        }
        assert!(layer_media_type(Compression::Zstd, true).is_err());
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(Compression::sniff(b"Files/"), Compression::None);
    }
}
