//! The serde types of the metadata sidecar (see [`crate::format`](mod@crate::format)).

use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use wclayer_backup::{FileAttributes, FileBasicInfo, FileTime};

use crate::format::{FORMAT_NAME, FORMAT_VERSION};

/// Whether a layer directory is a base layer or a delta layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// Imported with no parents: read with the base walk, no tombstones.
    Base,
    /// Imported with parents: read with the delta walk.
    Delta,
}

/// `layer.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub format: String,
    pub version: u32,
    pub kind: LayerKind,
    #[serde(default)]
    pub parents: Vec<String>,
    pub records: u64,
    pub files: u64,
    pub tombstones: u64,
    #[serde(default)]
    pub utility_vm_cloned: bool,
}

impl Manifest {
    pub(crate) fn new(kind: LayerKind, parents: Vec<String>) -> Manifest {
        Manifest {
            format: FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION,
            kind,
            parents,
            records: 0,
            files: 0,
            tombstones: 0,
            utility_vm_cloned: false,
        }
    }
}

/// `FILE_BASIC_INFO` in a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InfoRecord {
    pub attributes: u32,
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    pub change_time: u64,
}

impl From<&FileBasicInfo> for InfoRecord {
    fn from(i: &FileBasicInfo) -> InfoRecord {
        InfoRecord {
            attributes: i.file_attributes.0,
            creation_time: i.creation_time.0,
            last_access_time: i.last_access_time.0,
            last_write_time: i.last_write_time.0,
            change_time: i.change_time.0,
        }
    }
}

impl From<InfoRecord> for FileBasicInfo {
    fn from(r: InfoRecord) -> FileBasicInfo {
        FileBasicInfo {
            creation_time: FileTime(r.creation_time),
            last_access_time: FileTime(r.last_access_time),
            last_write_time: FileTime(r.last_write_time),
            change_time: FileTime(r.change_time),
            file_attributes: FileAttributes(r.attributes),
        }
    }
}

/// Where a stream body lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Body {
    /// In the entry's on-disk file, at this offset.
    Content(u64),
    /// The whole file `.wclayer/streams/<name>`.
    Blob(String),
    /// In the record, base64.
    Inline(#[serde(with = "b64")] Vec<u8>),
}

/// One backup sub-stream: its header fields and where its body is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StreamRecord {
    pub id: u32,
    pub attributes: u32,
    /// Body length (for a sparse block, without the 8-byte offset).
    pub size: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The raw UTF-16LE name bytes, when `name` does not encode back to them.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "b64_opt")]
    pub name_utf16: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    pub body: Body,
}

impl StreamRecord {
    /// The raw UTF-16LE name bytes of the header.
    pub(crate) fn name_bytes(&self) -> Vec<u8> {
        match &self.name_utf16 {
            Some(raw) => raw.clone(),
            None => self
                .name
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
        }
    }
}

/// Where a record came from, when not from the layer's own `add`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Origin {
    /// Index of the parent layer (nearest first).
    pub parent: usize,
    /// The name in that parent.
    pub path: String,
}

/// A `file` record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileRecord {
    pub n: u64,
    pub path: String,
    pub info: InfoRecord,
    pub data_size: u64,
    pub streams: Vec<StreamRecord>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub clone: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// One line of `entries.jsonl`. Read through [`RawRecord`]: serde's internally tagged
/// enums buffer every record in a generic form before they look at its tag, which costs an
/// export more than the rest of reading the record (docs/performance.md, "Export, plain").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase", try_from = "RawRecord")]
pub(crate) enum Record {
    File(FileRecord),
    Link {
        path: String,
        file: u64,
        #[serde(default, skip_serializing_if = "is_false")]
        clone: bool,
    },
    Tomb {
        path: String,
    },
}

/// The kind of a record (its `t`).
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RecordKind {
    File,
    Link,
    Tomb,
}

/// Every field any [`Record`] has, read in one pass; [`Record::try_from`] checks that the
/// record's kind has what it needs.
#[derive(Deserialize)]
pub(crate) struct RawRecord {
    t: RecordKind,
    path: String,
    n: Option<u64>,
    info: Option<InfoRecord>,
    data_size: Option<u64>,
    streams: Option<Vec<StreamRecord>>,
    #[serde(default)]
    clone: bool,
    origin: Option<Origin>,
    file: Option<u64>,
}

impl TryFrom<RawRecord> for Record {
    type Error = String;

    fn try_from(r: RawRecord) -> Result<Record, String> {
        let need = |field: &str| format!("missing field `{field}`");
        Ok(match r.t {
            RecordKind::File => Record::File(FileRecord {
                n: r.n.ok_or_else(|| need("n"))?,
                path: r.path,
                info: r.info.ok_or_else(|| need("info"))?,
                data_size: r.data_size.ok_or_else(|| need("data_size"))?,
                streams: r.streams.ok_or_else(|| need("streams"))?,
                clone: r.clone,
                origin: r.origin,
            }),
            RecordKind::Link => Record::Link {
                path: r.path,
                file: r.file.ok_or_else(|| need("file"))?,
                clone: r.clone,
            },
            RecordKind::Tomb => Record::Tomb { path: r.path },
        })
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

mod b64 {
    use super::B64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        B64.decode(s).map_err(serde::de::Error::custom)
    }
}

mod b64_opt {
    use super::B64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` passes `&Option<T>`
    pub(super) fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&B64.encode(v)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| B64.decode(s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Encodes `bytes` as the record's base64 (used by tests and `ls`-style output).
#[cfg(test)]
pub(crate) fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    B64.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_json() {
        let rec = Record::File(FileRecord {
            n: 3,
            path: "Files\\a".into(),
            info: InfoRecord {
                attributes: 32,
                creation_time: u64::MAX,
                last_access_time: 1,
                last_write_time: 2,
                change_time: 3,
            },
            data_size: 5,
            streams: vec![
                StreamRecord {
                    id: 1,
                    attributes: 0,
                    size: 5,
                    name: String::new(),
                    name_utf16: None,
                    offset: None,
                    body: Body::Content(0),
                },
                StreamRecord {
                    id: 4,
                    attributes: 0,
                    size: 2,
                    name: ":\u{fffd}:$DATA".into(),
                    name_utf16: Some(vec![b':', 0, 0x00, 0xd8, b':', 0]),
                    offset: None,
                    body: Body::Inline(vec![1, 2]),
                },
            ],
            clone: false,
            origin: None,
        });
        let line = serde_json::to_string(&rec).unwrap();
        assert!(
            line.starts_with(r#"{"t":"file","n":3,"path":"Files\\a""#),
            "{line}"
        );
        assert!(line.contains(&base64(&[1, 2])));
        assert!(!line.contains("clone"));
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, rec);
        let tomb: Record = serde_json::from_str(r#"{"t":"tomb","path":"x"}"#).unwrap();
        assert_eq!(tomb, Record::Tomb { path: "x".into() });
    }

    #[test]
    fn links_and_incomplete_or_unknown_records() {
        let link = Record::Link {
            path: "Files\\l".into(),
            file: 7,
            clone: true,
        };
        let line = serde_json::to_string(&link).unwrap();
        assert_eq!(
            line,
            r#"{"t":"link","path":"Files\\l","file":7,"clone":true}"#
        );
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), link);
        for (bad, want) in [
            (
                r#"{"t":"file","n":1,"path":"Files"}"#,
                "missing field `info`",
            ),
            (r#"{"t":"link","path":"Files\\l"}"#, "missing field `file`"),
            (r#"{"t":"tomb"}"#, "missing field `path`"),
            (r#"{"t":"pipe","path":"x"}"#, "unknown variant `pipe`"),
            (r#"{"path":"x"}"#, "missing field `t`"),
        ] {
            let e = serde_json::from_str::<Record>(bad).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn info_conversion_is_lossless() {
        let info = FileBasicInfo {
            creation_time: FileTime(1),
            last_access_time: FileTime(2),
            last_write_time: FileTime(u64::MAX),
            change_time: FileTime(4),
            file_attributes: FileAttributes(0xdead_beef),
        };
        assert_eq!(FileBasicInfo::from(InfoRecord::from(&info)), info);
    }
}
