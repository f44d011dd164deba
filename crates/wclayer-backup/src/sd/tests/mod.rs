//! Tests of the security-descriptor codecs against docs/ea-reparse-sd.md §3 and against
//! descriptors Windows produced (captured by Samba's test suite, see `conditions`), one
//! module per topic; the helpers and the §3.9 constants several of them use are here.

use base64::Engine as _;

use super::*;

mod binary_form;
mod conditions;
mod constants;
mod extensions;
mod properties;
mod sddl_text;
mod sids;

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("valid base64")
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("valid hex")
}

fn sd(sddl: &str) -> SecurityDescriptor {
    SecurityDescriptor::from_sddl(sddl).unwrap_or_else(|e| panic!("{sddl}: {e}"))
}

/// binary → SDDL → binary and SDDL → binary → SDDL, both exact.
fn assert_exact_pair(bytes: &[u8], sddl: &str) {
    let decoded = SecurityDescriptor::from_bytes(bytes).expect("decodes");
    assert_eq!(decoded.to_sddl(), sddl);
    assert_eq!(decoded.to_bytes(), bytes, "binary → struct → binary");
    let parsed = sd(sddl);
    assert_eq!(parsed, decoded, "SDDL and binary give the same structure");
    assert_eq!(parsed.to_bytes(), bytes, "SDDL → binary");
}

// §3.9 constants, base64 as the specification gives them.

const USERS_OWNER_AND_GROUP: &str =
    "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==";
const ADMINISTRATORS_OWNER_AND_GROUP: &str =
    "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAgAgAAAQIAAAAAAAUgAAAAIAIAAA==";
const BUILDKIT_FILE: &str = "AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgBMAAMAAAAAABgA/wEfAAECAAAAAAAFIAAAACACAAAAABQA/wEfAAEBAAAAAAAFEgAAAAAAGACpABIAAQIAAAAAAAUgAAAAIQIAAA==";
const BUILDKIT_DIRECTORY: &str = "AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgCoAAcAAAAAAxgA/wEfAAECAAAAAAAFIAAAACACAAAAAxQA/wEfAAEBAAAAAAAFEgAAAAAAGAD/AR8AAQIAAAAAAAUgAAAAIAIAAAALFAAAAAAQAQEAAAAAAAMAAAAAAAMYAKkAEgABAgAAAAAABSAAAAAhAgAAAAIYAAQAAAABAgAAAAAABSAAAAAhAgAAAAIYAAIAAAABAgAAAAAABSAAAAAhAgAA";
