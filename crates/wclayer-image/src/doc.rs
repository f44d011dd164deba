//! The image documents: index (manifest list), manifest and config, read with a size limit
//! and checked (schema version, media types, digests) before anything uses them.
//!
//! The types are `oci-spec`'s; the platform of an index entry is read from the JSON itself,
//! because `oci-spec`'s `Platform` does not read the `os.version` key, which Windows images
//! are selected by.

use std::collections::BTreeMap;
use std::io::Read;

use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};
use serde_json::Value;

use crate::Error;
use crate::digest::Digest;
use crate::media::{self, LayerMedia};
use crate::platform::Platform;

/// Largest index, manifest, config or `manifest.json` accepted (4 MiB): real ones are a few
/// kilobytes; the limit keeps a hostile document from filling memory.
pub const MAX_DOCUMENT: u64 = 4 << 20;

/// Reads a whole document of at most [`MAX_DOCUMENT`] bytes; `what` names it in errors.
///
/// # Errors
/// A read error, or a document over the limit.
pub fn read_limited(r: impl Read, what: &str) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    r.take(MAX_DOCUMENT.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(format!("cannot read {what}"), e))?;
    check_size(buf.len() as u64, what)?;
    Ok(buf)
}

/// Refuses a document whose size is over [`MAX_DOCUMENT`].
///
/// # Errors
/// When `size` is over the limit.
pub fn check_size(size: u64, what: &str) -> Result<(), Error> {
    if size > MAX_DOCUMENT {
        return Err(Error::Invalid(format!(
            "{what} is larger than {MAX_DOCUMENT} bytes, the most an image document may have"
        )));
    }
    Ok(())
}

/// The document `desc` points to, read from `r`: refused over [`MAX_DOCUMENT`], checked
/// against the descriptor's size and digest; `what` names it.
///
/// # Errors
/// Too large, a failed read, or bytes that do not match the descriptor.
pub fn read_described(r: impl Read, desc: &Descriptor, what: &str) -> Result<Vec<u8>, Error> {
    check_size(desc.size, what)?;
    read_limited(
        crate::digest::VerifyingReader::new(r, Some(desc.digest), desc.size),
        what,
    )
}

/// Checks an OCI layout's `oci-layout` file (`what` names it): version 1.x.
///
/// # Errors
/// Invalid JSON, or another version.
pub fn check_oci_layout(bytes: &[u8], what: &str) -> Result<(), Error> {
    let l: oci_spec::image::OciLayout = serde_json::from_slice(bytes)
        .map_err(|e| Error::Invalid(format!("{what} is not valid: {e}")))?;
    if !l.image_layout_version().starts_with("1.") {
        return Err(Error::Invalid(format!(
            "{what}: image layout version {}, not 1.x",
            l.image_layout_version()
        )));
    }
    Ok(())
}

/// A content descriptor, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// Its media type.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Where a foreign layer's blob may be fetched.
    pub urls: Vec<String>,
    /// The platform of an index entry.
    pub platform: Option<Platform>,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// The tag of an entry of a layout's `index.json`.
    #[must_use]
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations.get(media::REF_NAME).map(String::as_str)
    }
}

fn bad(what: &str, why: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{what} is not valid: {why}"))
}

fn json(bytes: &[u8], what: &str) -> Result<Value, Error> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(what, e))?;
    if !v.is_object() {
        return Err(bad(what, "it is not a JSON object"));
    }
    Ok(v)
}

fn schema_2(v: &Value, what: &str) -> Result<(), Error> {
    match v.get("schemaVersion").and_then(Value::as_u64) {
        Some(2) => Ok(()),
        Some(n) => Err(bad(what, format!("schemaVersion {n}, not 2"))),
        None => Err(bad(what, "no schemaVersion")),
    }
}

/// Checks the digests of the descriptors under `key` (an object or a list of them) before
/// the types read them, so that the message names the descriptor and says what a digest is.
fn check_digests(v: &Value, key: &str, what: &str, name: &str) -> Result<(), Error> {
    let list: Vec<&Value> = match v.get(key) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => return Ok(()),
    };
    for (i, d) in list.iter().enumerate() {
        if let Some(text) = d.get("digest").and_then(Value::as_str) {
            Digest::parse(text).map_err(|e| {
                let n = if key == "config" {
                    String::new()
                } else {
                    format!(" {}", i.saturating_add(1))
                };
                bad(what, format!("{name}{n}: {e}"))
            })?;
        }
    }
    Ok(())
}

fn platform_of(raw: Option<&Value>) -> Option<Platform> {
    let p = raw?.get("platform")?;
    let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    Some(Platform {
        os: s("os").unwrap_or_default(),
        architecture: s("architecture").unwrap_or_default(),
        variant: s("variant"),
        os_version: s("os.version"),
    })
}

fn descriptor(
    d: &oci_spec::image::Descriptor,
    raw: Option<&Value>,
    what: &str,
) -> Result<Descriptor, Error> {
    let digest = Digest::parse(d.digest().as_ref()).map_err(|e| bad(what, e))?;
    Ok(Descriptor {
        media_type: d.media_type().to_string(),
        digest,
        size: d.size(),
        urls: d.urls().clone().unwrap_or_default(),
        platform: platform_of(raw),
        annotations: d
            .annotations()
            .as_ref()
            .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    })
}

/// The media type a document says it has (its own `mediaType`) agrees with the one its
/// descriptor gave.
fn own_media_type(v: &Value, expected: Option<&str>, what: &str) -> Result<Option<String>, Error> {
    let own = v.get("mediaType").and_then(Value::as_str);
    if let (Some(own), Some(expected)) = (own, expected)
        && own != expected
    {
        return Err(bad(
            what,
            format!("its mediaType is {own}, its descriptor says {expected}"),
        ));
    }
    Ok(own.or(expected).map(str::to_string))
}

/// An image index (OCI) or manifest list (Docker), or a layout's `index.json`.
#[derive(Clone, Debug)]
pub struct Index {
    /// Its entries.
    pub manifests: Vec<Descriptor>,
}

/// Parses an index; `what` names it in errors.
///
/// # Errors
/// Bad JSON, a schema version other than 2, a media type that is no index's, a bad digest.
pub fn parse_index(bytes: &[u8], expected: Option<&str>, what: &str) -> Result<Index, Error> {
    let v = json(bytes, what)?;
    schema_2(&v, what)?;
    if let Some(t) = own_media_type(&v, expected, what)?
        && !media::is_index(&t)
    {
        return Err(bad(what, format!("its media type {t} is no image index's")));
    }
    check_digests(&v, "manifests", what, "entry")?;
    let index: ImageIndex = serde_json::from_value(v.clone()).map_err(|e| bad(what, e))?;
    let raw = v.get("manifests").and_then(Value::as_array);
    let manifests = index
        .manifests()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            descriptor(
                d,
                raw.and_then(|r| r.get(i)),
                &format!("{what}, entry {}", i.saturating_add(1)),
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(Index { manifests })
}

/// A layer of a manifest.
#[derive(Clone, Debug)]
pub struct LayerDescriptor {
    /// The descriptor.
    pub descriptor: Descriptor,
    /// What its media type says.
    pub media: LayerMedia,
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Clone, Debug)]
pub struct Manifest {
    /// Its media type.
    pub media_type: String,
    /// Whether it is a Docker schema 2 manifest.
    pub docker: bool,
    /// The config.
    pub config: Descriptor,
    /// The layers, base first.
    pub layers: Vec<LayerDescriptor>,
    /// The document, for a new manifest built on it (unknown fields kept).
    pub json: Value,
}

/// Parses an image manifest; `what` names it in errors.
///
/// # Errors
/// Bad JSON, a schema version other than 2, a media type that is no manifest's, a config
/// that is no image config, a layer media type wclayer does not read, a bad digest.
pub fn parse_manifest(bytes: &[u8], expected: Option<&str>, what: &str) -> Result<Manifest, Error> {
    let v = json(bytes, what)?;
    schema_2(&v, what)?;
    let media_type =
        own_media_type(&v, expected, what)?.unwrap_or_else(|| media::OCI_MANIFEST.to_string());
    if !media::is_manifest(&media_type) {
        return Err(bad(
            what,
            format!("its media type {media_type} is no image manifest's"),
        ));
    }
    check_digests(&v, "config", what, "config")?;
    check_digests(&v, "layers", what, "layer")?;
    let m: ImageManifest = serde_json::from_value(v.clone()).map_err(|e| bad(what, e))?;
    let config = descriptor(m.config(), None, &format!("{what}, config"))?;
    if !media::is_config(&config.media_type) {
        return Err(bad(
            what,
            format!(
                "its config has media type {}, not an image config's",
                config.media_type
            ),
        ));
    }
    let layers = m
        .layers()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let n = i.saturating_add(1);
            let descriptor = descriptor(d, None, &format!("{what}, layer {n}"))?;
            let media = media::layer_media(&descriptor.media_type).ok_or_else(|| {
                bad(
                    what,
                    format!(
                        "layer {n} has media type {}, which is no layer media type wclayer reads",
                        descriptor.media_type
                    ),
                )
            })?;
            Ok(LayerDescriptor { descriptor, media })
        })
        .collect::<Result<_, Error>>()?;
    Ok(Manifest {
        docker: media_type == media::DOCKER_MANIFEST,
        media_type,
        config,
        layers,
        json: v,
    })
}

/// An image config (OCI or Docker).
#[derive(Clone, Debug)]
pub struct Config {
    /// `os`, `architecture`, `variant`, `os.version`.
    pub platform: Platform,
    /// `rootfs.diff_ids`, base first.
    pub diff_ids: Vec<Digest>,
    /// Entries in `history`.
    pub history: usize,
    /// The document, for a new config built on it (unknown fields kept).
    pub json: Value,
}

/// Parses an image config; `what` names it in errors.
///
/// # Errors
/// Bad JSON, a `rootfs` that is not of type `layers`, a diffID that is no digest.
pub fn parse_config(bytes: &[u8], what: &str) -> Result<Config, Error> {
    let v = json(bytes, what)?;
    let c: ImageConfiguration = serde_json::from_value(v.clone()).map_err(|e| bad(what, e))?;
    if c.rootfs().typ() != "layers" {
        return Err(bad(
            what,
            format!("rootfs type {:?}, not \"layers\"", c.rootfs().typ()),
        ));
    }
    let diff_ids = c
        .rootfs()
        .diff_ids()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Digest::parse(d).map_err(|e| bad(what, format!("diffID {}: {e}", i.saturating_add(1))))
        })
        .collect::<Result<_, _>>()?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(Config {
        platform: Platform {
            os: c.os().to_string(),
            architecture: c.architecture().to_string(),
            variant: s("variant"),
            os_version: s("os.version"),
        },
        diff_ids,
        history: c.history().as_ref().map_or(0, Vec::len),
        json: v,
    })
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn manifest(layer_type: &str, digest: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{D}","size":2}},"layers":[{{"mediaType":"{layer_type}","digest":"{digest}","size":5,"urls":["https://example.invalid/l"]}}]}}"#,
            media::OCI_MANIFEST,
            media::OCI_CONFIG
        )
    }

    #[test]
    fn manifests_parse_and_are_checked() {
        let m = parse_manifest(
            manifest("application/vnd.oci.image.layer.v1.tar+gzip", D).as_bytes(),
            Some(media::OCI_MANIFEST),
            "m",
        )
        .unwrap();
        assert!(!m.docker);
        assert_eq!(m.layers.len(), 1);
        assert_eq!(m.layers[0].descriptor.urls, ["https://example.invalid/l"]);
        let e = parse_manifest(
            manifest("application/vnd.oci.image.layer.v1.tar+xz", D).as_bytes(),
            None,
            "m",
        )
        .unwrap_err();
        assert!(e.to_string().contains("no layer media type"), "{e}");
        let e = parse_manifest(
            manifest(
                "application/vnd.oci.image.layer.v1.tar",
                "sha256:../../etc/passwd",
            )
            .as_bytes(),
            None,
            "m",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("m, layer 1") || e.to_string().contains("m is not valid"),
            "{e}"
        );
        let e = parse_manifest(
            manifest("application/vnd.oci.image.layer.v1.tar", D).as_bytes(),
            Some(media::DOCKER_MANIFEST),
            "m",
        )
        .unwrap_err();
        assert!(e.to_string().contains("descriptor says"), "{e}");
        for bad_doc in [
            "",
            "[]",
            "{",
            r#"{"schemaVersion":1}"#,
            r#"{"schemaVersion":2}"#,
            "null",
        ] {
            assert!(
                parse_manifest(bad_doc.as_bytes(), None, "m").is_err(),
                "{bad_doc}"
            );
            assert!(
                parse_index(bad_doc.as_bytes(), None, "i").is_err(),
                "{bad_doc}"
            );
            assert!(parse_config(bad_doc.as_bytes(), "c").is_err(), "{bad_doc}");
        }
    }

    #[test]
    fn upper_case_or_other_algorithms_are_refused_in_documents() {
        for digest in [
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/",
        ] {
            let doc = manifest("application/vnd.oci.image.layer.v1.tar", digest);
            assert!(
                parse_manifest(doc.as_bytes(), None, "m").is_err(),
                "{digest}"
            );
        }
    }

    #[test]
    fn index_entries_keep_os_version() {
        let doc = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{D}","size":9,"platform":{{"os":"windows","architecture":"amd64","os.version":"10.0.20348.2113"}}}}]}}"#,
            media::DOCKER_LIST,
            media::DOCKER_MANIFEST
        );
        let i = parse_index(doc.as_bytes(), None, "i").unwrap();
        let p = i.manifests[0].platform.clone().unwrap();
        assert_eq!(p.os_version.as_deref(), Some("10.0.20348.2113"));
        assert_eq!(p.to_string(), "windows/amd64:10.0.20348.2113");
        let e = parse_index(doc.as_bytes(), Some(media::OCI_MANIFEST), "i").unwrap_err();
        assert!(e.to_string().contains("descriptor says"), "{e}");
    }

    #[test]
    fn configs_parse() {
        let doc = format!(
            r#"{{"architecture":"amd64","os":"windows","os.version":"10.0.20348.1","rootfs":{{"type":"layers","diff_ids":["{D}"]}},"history":[{{"created_by":"x"}}],"container":"kept"}}"#
        );
        let c = parse_config(doc.as_bytes(), "c").unwrap();
        assert_eq!(c.platform.to_string(), "windows/amd64:10.0.20348.1");
        assert_eq!(c.diff_ids.len(), 1);
        assert_eq!(c.history, 1);
        assert_eq!(c.json["container"], "kept");
        let e = parse_config(doc.replace(D, "sha256:abc").as_bytes(), "c").unwrap_err();
        assert!(e.to_string().contains("diffID 1"), "{e}");
        let e = parse_config(doc.replace("\"layers\"", "\"other\"").as_bytes(), "c").unwrap_err();
        assert!(e.to_string().contains("rootfs type"), "{e}");
    }

    #[test]
    fn documents_over_the_limit_are_refused_naming_them() {
        let big = vec![b' '; usize::try_from(MAX_DOCUMENT).unwrap() + 1];
        let e = read_limited(&big[..], "the manifest of x").unwrap_err();
        assert!(
            e.to_string().contains("the manifest of x is larger than"),
            "{e}"
        );
        assert_eq!(read_limited(&b"{}"[..], "x").unwrap(), b"{}");
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse_index(&bytes, None, "i");
            let _ = parse_manifest(&bytes, None, "m");
            let _ = parse_config(&bytes, "c");
        }
    }
}
