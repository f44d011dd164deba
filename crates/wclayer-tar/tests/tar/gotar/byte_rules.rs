//! The byte rules of docs/oci-tar-mapping.md §8: names, prefixes, formats, times, sizes, ids and
//! records as Go lays them out.

use wclayer_backup::UnixTime;
use wclayer_tar::gotar::{Format, Header};

use super::spec_example::T0_PAX;
use super::{BLOCK, cstr, one, records_at_start};

#[test]
fn non_ascii_name_truncates_with_one_nul_and_keeps_path_record() {
    let name = format!("Files/{}/é/é/child", "a".repeat(91));
    let h = Header {
        name: name.clone(),
        mode: 0o100000,
        format: Format::Pax,
        ..Header::default()
    };
    let ar = one(&h, b"");
    assert_eq!(name.len(), 109);
    assert_eq!(records_at_start(&ar), format!("119 path={name}\n"));
    // The x entry's own name `Files/aaa…a/é/é/PaxHeaders.0/child`, ASCII-filtered, truncated to
    // 100 bytes and stripped of its trailing '/'.
    assert_eq!(cstr(&ar[..100]), format!("Files/{}", "a".repeat(91)));
    let main = &ar[2 * BLOCK..3 * BLOCK];
    assert_eq!(&main[..6], b"Files/");
    assert!(main[6..97].iter().all(|&b| b == b'a'));
    assert_eq!(&main[97..100], &[0x00, 0x2f, 0x2f]);
}

#[test]
fn long_ascii_whiteout_is_split_into_ustar_prefix() {
    let prefix = format!("Files/{}/{}", "d".repeat(80), "e".repeat(40));
    let base = format!(".wh.{}", "f".repeat(30));
    let h = Header {
        name: format!("{prefix}/{base}"),
        ..Header::default()
    };
    let ar = one(&h, b"");
    assert_eq!(ar.len(), 3 * BLOCK, "one USTAR block + trailer");
    assert_eq!(cstr(&ar[..100]), base);
    assert_eq!(cstr(&ar[345..500]), prefix);
    assert_eq!(&ar[257..265], b"ustar\x0000");
    assert_eq!(&ar[136..148], b"00000000000\0");
    let mut read = tar::Archive::new(&ar[..]);
    let entry = read.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(&*entry.path_bytes(), h.name.as_bytes());
}

#[test]
fn unsplittable_whiteout_gets_pax_with_only_path() {
    // The part after the last '/' is over 100 bytes: no USTAR split exists.
    let name = format!("Files/.wh.{}", "g".repeat(150));
    let h = Header {
        name: name.clone(),
        ..Header::default()
    };
    let ar = one(&h, b"");
    assert_eq!(ar.len(), 5 * BLOCK);
    assert_eq!(records_at_start(&ar), format!("170 path={name}\n"));
    assert_eq!(
        cstr(&ar[..100]),
        format!("Files/PaxHeaders.0/.wh.{}", "g".repeat(77))
    );
    let main = &ar[2 * BLOCK..3 * BLOCK];
    assert_eq!(&main[..100], &name.as_bytes()[..100]);
    assert_eq!(&main[136..148], b"00000000000\0");
    // A non-ASCII short whiteout also needs the record.
    let ar = one(
        &Header {
            name: "Files/.wh.é".into(),
            ..Header::default()
        },
        b"",
    );
    assert_eq!(records_at_start(&ar), "21 path=Files/.wh.é\n");
    assert_eq!(cstr(&ar[2 * BLOCK..2 * BLOCK + 100]), "Files/.wh.");
}

#[test]
fn pax_format_without_pax_needs_is_ustar() {
    // Go: Format PAX still allows USTAR unless a time needs PAX.
    let h = Header {
        name: "Files/plain".into(),
        mod_time: UnixTime {
            secs: 1_700_000_000,
            nanos: 0,
        },
        format: Format::Pax,
        ..Header::default()
    };
    assert_eq!(one(&h, b"").len(), 3 * BLOCK);
    let with_atime = Header {
        access_time: UnixTime { secs: 5, nanos: 0 },
        ..h
    };
    assert_eq!(records_at_start(&one(&with_atime, b"")), "11 atime=5\n");
}

#[test]
fn mtime_field_and_record_rules() {
    let main_mtime = |t: UnixTime| {
        let h = Header {
            name: "f".into(),
            mod_time: t,
            access_time: UnixTime { secs: 1, nanos: 0 },
            format: Format::Pax,
            ..Header::default()
        };
        let ar = one(&h, b"");
        let recs = records_at_start(&ar).to_owned();
        (cstr(&ar[2 * BLOCK + 136..2 * BLOCK + 148]).to_owned(), recs)
    };
    let t = |secs, nanos| UnixTime { secs, nanos };
    assert_eq!(
        main_mtime(UnixTime::GO_ZERO),
        ("00000000000".into(), "11 atime=1\n".into())
    );
    assert_eq!(
        main_mtime(t(-2, 500_000_000)),
        ("00000000000".into(), "11 atime=1\n14 mtime=-1.5\n".into())
    );
    assert_eq!(
        main_mtime(t(8_589_934_592, 0)),
        (
            "00000000000".into(),
            "11 atime=1\n20 mtime=8589934592\n".into()
        )
    );
    assert_eq!(
        main_mtime(t(8_589_934_591, 0)),
        ("77777777777".into(), "11 atime=1\n".into())
    );
    assert_eq!(
        main_mtime(t(1_609_556_645, 123_456_700)),
        (
            "13773761245".into(),
            format!("11 atime=1\n28 mtime={T0_PAX}\n")
        )
    );
}

#[test]
fn sizes_ids_and_names_spill_into_records() {
    let h = Header {
        name: "Files/d".into(),
        typeflag: b'5',
        size: 8_589_934_592,
        uid: 2_097_152,
        gid: -1,
        uname: "ü".into(),
        gname: "g".repeat(33),
        format: Format::Pax,
        ..Header::default()
    };
    let ar = one(&h, b"");
    assert_eq!(
        records_at_start(&ar),
        format!(
            "9 gid=-1\n43 gname={}\n19 size=8589934592\n15 uid=2097152\n12 uname=ü\n",
            "g".repeat(33)
        )
    );
    let main = &ar[2 * BLOCK..3 * BLOCK];
    assert_eq!(
        &main[108..124],
        b"0000000\x000000000\x00",
        "uid/gid fall back to 0"
    );
    assert_eq!(&main[124..136], b"00000000000\0", "size falls back to 0");
    assert_eq!(&main[265..297], &[0u8; 32], "non-ASCII dropped");
    assert_eq!(
        &main[297..329],
        "g".repeat(32).as_bytes(),
        "truncated, no NUL"
    );
    // A directory has no data however large its size.
    assert_eq!(ar.len(), 5 * BLOCK);
}

#[test]
fn caller_records_for_go_keys_are_dropped_unless_equal() {
    let mut h = Header {
        name: "Files/x".into(),
        size: 3,
        format: Format::Pax,
        ..Header::default()
    };
    h.pax_records.insert("size".into(), "3".into());
    h.pax_records.insert("path".into(), "elsewhere".into());
    h.pax_records.insert("GNU.sparse.major".into(), "1".into());
    h.pax_records
        .insert("MSWINDOWS.fileattr".into(), "32".into());
    assert_eq!(
        records_at_start(&one(&h, b"abc")),
        "25 MSWINDOWS.fileattr=32\n9 size=3\n"
    );
}
