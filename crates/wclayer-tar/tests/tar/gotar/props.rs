//! Property tests: valid headers read back with the `tar` crate; arbitrary headers never
//! panic.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use proptest::prelude::*;
use wclayer_backup::UnixTime;
use wclayer_tar::gotar::{Format, GoTarWriter, Header};

use super::go_reference::GO_KEYS;
use super::{BLOCK, parse_pax_time};

fn any_time() -> impl Strategy<Value = UnixTime> {
    prop_oneof![
        Just(UnixTime::GO_ZERO),
        (-20_000_000_000i64..20_000_000_000, 0u32..1_000_000_000)
            .prop_map(|(secs, nanos)| UnixTime { secs, nanos }),
        (any::<i64>(), prop_oneof![Just(0u32), 0u32..1_000_000_000])
            .prop_map(|(secs, nanos)| UnixTime { secs, nanos }),
    ]
}

fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._ -]{1,20}(/[a-zA-Z0-9._ -]{1,40}){0,6}",
        "[a-zé日本/._-]{1,300}",
        "(a/){40,60}[a-z]{1,120}",
    ]
}

fn valid_header() -> impl Strategy<Value = Header> {
    (
        any_name(),
        prop_oneof![Just(b'0'), Just(b'1'), Just(b'2'), Just(b'5')],
        "[a-zé日/._-]{0,150}",
        0i64..1500,
        (any_time(), any_time(), any_time()),
        proptest::collection::btree_map(
            "[A-FH-Z][A-Z]{0,7}\\.[a-zA-Z.]{1,12}",
            "[ -~é]{0,60}",
            0..4,
        ),
        any::<bool>(),
    )
        .prop_map(|(mut name, typeflag, link, size, times, records, pax)| {
            if typeflag == b'0' && name.ends_with('/') {
                name.push('x');
            }
            let data_type = typeflag == b'0';
            Header {
                name,
                linkname: if matches!(typeflag, b'1' | b'2') {
                    link
                } else {
                    String::new()
                },
                typeflag,
                mode: 0o100000,
                // The tar crate reads `size` bytes for every type, so only files have one.
                size: if data_type { size } else { 0 },
                mod_time: times.0,
                access_time: times.1,
                change_time: times.2,
                pax_records: records,
                format: if pax {
                    Format::Pax
                } else {
                    Format::Unspecified
                },
                ..Header::default()
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn written_headers_read_back(h in valid_header()) {
        let data: Vec<u8> = (0..h.size).map(|i| u8::try_from(i % 251).unwrap()).collect();
        let mut tw = GoTarWriter::new(Vec::new());
        tw.write_header(&h).unwrap();
        tw.write_all(&data).unwrap();
        let ar = tw.finish().unwrap();
        prop_assert_eq!(ar.len() % BLOCK, 0);

        let mut read = tar::Archive::new(&ar[..]);
        let mut entries = read.entries().unwrap();
        let mut entry = entries.next().unwrap().unwrap();
        prop_assert_eq!(&*entry.path_bytes(), h.name.as_bytes());
        prop_assert_eq!(entry.header().entry_type().as_byte(), h.typeflag);
        prop_assert_eq!(entry.size(), u64::try_from(h.size).unwrap());
        let link = entry.link_name_bytes().map(|l| l.into_owned()).unwrap_or_default();
        prop_assert_eq!(link, h.linkname.as_bytes());

        let mut records = BTreeMap::new();
        if let Some(exts) = entry.pax_extensions().unwrap() {
            for ext in exts {
                let ext = ext.unwrap();
                records.insert(ext.key().unwrap().to_owned(), ext.value().unwrap().to_owned());
            }
        }
        let mtime_field = i64::try_from(entry.header().mtime().unwrap()).unwrap();
        let mut back = Vec::new();
        entry.read_to_end(&mut back).unwrap();
        prop_assert_eq!(back, data);
        prop_assert!(entries.next().is_none());

        let time = |k: &str| records.get(k).map(|v| parse_pax_time(v));
        if h.format == Format::Pax {
            let expect = |t: UnixTime| (!t.is_go_zero()).then_some(t);
            prop_assert_eq!(time("atime"), expect(h.access_time));
            prop_assert_eq!(time("ctime"), expect(h.change_time));
            let mtime = time("mtime").unwrap_or(UnixTime { secs: mtime_field, nanos: 0 });
            let want = if h.mod_time.is_go_zero() { UnixTime { secs: 0, nanos: 0 } } else { h.mod_time };
            prop_assert_eq!(mtime, want);
        } else {
            prop_assert!(!records.contains_key("atime") && !records.contains_key("ctime"));
            if h.mod_time.secs.unsigned_abs() < 1 << 40 && !h.mod_time.is_go_zero() {
                let mut rounded = h.mod_time.secs + i64::from(h.mod_time.nanos >= 500_000_000);
                if rounded == UnixTime::GO_ZERO.secs {
                    rounded = 0;
                }
                let mtime = time("mtime").unwrap_or(UnixTime { secs: mtime_field, nanos: 0 });
                prop_assert_eq!(mtime, UnixTime { secs: rounded, nanos: 0 });
            }
        }
        records.retain(|k, _| !GO_KEYS.contains(&k.as_str()));
        prop_assert_eq!(records, h.pax_records);
    }

    #[test]
    fn arbitrary_headers_never_panic(
        name in "\\PC{0,200}|[\\x00-\\x7f]{0,200}",
        linkname in "\\PC{0,120}",
        uname in "\\PC{0,40}",
        typeflag in any::<u8>(),
        nums in proptest::array::uniform6(prop_oneof![any::<i64>(), -3i64..3000]),
        times in (any_time(), any_time(), any_time()),
        raw_nanos in any::<u32>(),
        records in proptest::collection::btree_map("\\PC{0,10}", "\\PC{0,20}", 0..3),
        pax in any::<bool>(),
    ) {
        let h = Header {
            name,
            linkname,
            typeflag,
            mode: nums[0],
            uid: nums[1],
            gid: nums[2],
            uname,
            size: nums[3],
            mod_time: UnixTime { secs: times.0.secs, nanos: raw_nanos },
            access_time: times.1,
            change_time: times.2,
            devmajor: nums[4],
            devminor: nums[5],
            pax_records: records,
            format: if pax { Format::Pax } else { Format::Unspecified },
            ..Header::default()
        };
        let mut tw = GoTarWriter::new(Vec::new());
        if tw.write_header(&h).is_ok() {
            let data = vec![b'd'; usize::try_from(h.size.clamp(0, 2000)).unwrap()];
            let complete = tw.write_all(&data).is_ok() && h.size <= 2000;
            let end = tw.finish();
            if complete || matches!(h.typeflag, b'1'..=b'6' | b'g') {
                let ar = end.unwrap();
                prop_assert_eq!(ar.len() % BLOCK, 0);
            }
        }
    }
}
