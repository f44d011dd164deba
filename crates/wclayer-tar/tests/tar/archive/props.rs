//! Property tests: random archives written by the `tar` crate read back, and arbitrary or
//! mutated input never panics.

use std::collections::BTreeMap;
use std::io;

use proptest::prelude::*;
use wclayer_tar::archive::ArchiveOptions;
use wclayer_testtools::io::ShortReader;

use super::sparse::old_gnu_sparse;
use super::vectors::{append_pax, tar_crate_view, without_offsets};
use super::{Hdr, Tar, read_from, read_with, same_outcome, t};

#[derive(Clone, Debug)]
enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Hardlink(String),
}

#[derive(Clone, Debug)]
struct Spec {
    name: String,
    kind: Kind,
    mtime: u64,
    mode: u32,
    gnu: bool,
    records: Vec<(String, String)>,
}

fn name_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-zA-Z0-9_.é日-]{1,40}", 1..6).prop_map(|parts| {
        let parts: Vec<String> = parts
            .into_iter()
            .map(|p| {
                if p == "." || p == ".." {
                    "dot".to_string()
                } else {
                    p
                }
            })
            .collect();
        parts.join("/")
    })
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    let kind = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..1500).prop_map(Kind::File),
        1 => Just(Kind::Dir),
        1 => name_strategy().prop_map(Kind::Symlink),
        1 => name_strategy().prop_map(Kind::Hardlink),
    ];
    (
        name_strategy(),
        kind,
        0u64..0o77777777777,
        0u32..0o7777,
        any::<bool>(),
        prop::collection::vec(("[A-Za-z]{1,10}", "[ -~é]{0,30}"), 0..4),
    )
        .prop_map(|(name, kind, mtime, mode, gnu, recs)| Spec {
            name,
            kind,
            mtime,
            mode,
            gnu,
            records: recs
                .into_iter()
                .map(|(k, v)| (format!("MSWINDOWS.{k}"), v))
                .collect(),
        })
}

fn build(specs: &[Spec]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for s in specs {
        if !s.records.is_empty() {
            let recs: Vec<(&str, &[u8])> = s
                .records
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_bytes()))
                .collect();
            append_pax(&mut b, &recs);
        }
        let mut h = if s.gnu {
            tar::Header::new_gnu()
        } else {
            tar::Header::new_ustar()
        };
        h.set_mtime(s.mtime);
        h.set_mode(s.mode);
        match &s.kind {
            Kind::File(d) => {
                h.set_size(d.len() as u64);
                b.append_data(&mut h, &s.name, &d[..]).unwrap();
            }
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, &s.name, io::empty()).unwrap();
            }
            Kind::Symlink(target) | Kind::Hardlink(target) => {
                h.set_entry_type(if matches!(s.kind, Kind::Symlink(_)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_size(0);
                b.append_link(&mut h, &s.name, target).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_tar_crate_archives_round_trip(specs in prop::collection::vec(spec_strategy(), 0..8), seed in any::<u64>()) {
        let bytes = build(&specs);
        let out = read_from(ShortReader::new(&bytes[..], seed), ArchiveOptions::default()).ok();
        prop_assert_eq!(out.len(), specs.len());
        for ((h, data), s) in out.iter().zip(&specs) {
            prop_assert_eq!(&h.name, &s.name);
            prop_assert_eq!(h.mod_time, t(s.mtime as i64, 0));
            prop_assert_eq!(h.mode, i64::from(s.mode));
            let records: BTreeMap<String, String> = s.records.iter().cloned().collect();
            prop_assert_eq!(&h.pax_records, &records);
            match &s.kind {
                Kind::File(d) => {
                    prop_assert_eq!((h.typeflag, h.size), (b'0', d.len() as i64));
                    prop_assert_eq!(data, d);
                }
                Kind::Dir => prop_assert_eq!(h.typeflag, b'5'),
                Kind::Symlink(target) => {
                    prop_assert_eq!(h.typeflag, b'2');
                    prop_assert_eq!(&h.linkname, target);
                }
                Kind::Hardlink(target) => {
                    prop_assert_eq!(h.typeflag, b'1');
                    prop_assert_eq!(&h.linkname, target);
                }
            }
        }
        // The tar crate reads the same archive the same way.
        prop_assert_eq!(without_offsets(&out), tar_crate_view(&bytes));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        let mut o = ArchiveOptions::default();
        o.max_sparse_logical_size = 1 << 20;
        let _ = read_from(&bytes[..], o);
    }

    #[test]
    fn mutated_archives_never_panic(
        specs in prop::collection::vec(spec_strategy(), 1..4),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let mut bytes = build(&specs);
        for (at, v) in flips {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        let end = cut.index(bytes.len() + 1);
        let mut o = ArchiveOptions::default();
        o.max_sparse_logical_size = 1 << 20;
        let plain = read_from(&bytes[..end], o.clone());
        let short = read_from(ShortReader::new(&bytes[..end], seed), o);
        same_outcome(&plain, &short, "mutated");
    }

    #[test]
    fn mutated_sparse_archives_never_panic(
        flips in prop::collection::vec((0usize..2048, any::<u8>()), 1..6),
    ) {
        let frags: Vec<(u64, Vec<u8>)> = (0..8).map(|i| (i * 50, vec![7; 10])).collect();
        let mut bytes = old_gnu_sparse("s", 500, &frags);
        let mut pax = Tar::default();
        let mut data = b"1\n3\n4\n".to_vec();
        data.resize(512, 0);
        data.extend_from_slice(b"wxyz");
        pax.pax(b'x', &[("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"), ("GNU.sparse.realsize", "9")])
            .entry(&Hdr::ustar("s", b'0', 516), &data);
        bytes.splice(0..0, pax.bytes);
        for (at, v) in flips {
            let i = at % bytes.len();
            bytes[i] = v;
        }
        let mut o = ArchiveOptions::default();
        o.max_sparse_logical_size = 1 << 24;
        let _ = read_with(&bytes, o);
    }
}
