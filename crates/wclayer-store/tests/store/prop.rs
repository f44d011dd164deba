//! Randomized layers: MemLayer → DirLayerWriter → DirLayerReader equals MemLayer's reader.

use std::io::Write;

use proptest::prelude::*;
use wclayer_backup::reparse::ReparsePoint;
use wclayer_layer::{LayerWriter, MemLayer, WalkMode, copy_layer};

use crate::common::*;

#[derive(Clone, Debug)]
enum Sub {
    Sd(Vec<u8>),
    Ea(Vec<u8>),
    Data(Vec<u8>),
    Ads(u8, Vec<u8>),
    Sparse(Vec<(u16, Vec<u8>)>),
}

#[derive(Clone, Debug)]
enum Op {
    Dir(usize, u64),
    File(usize, u64, Vec<Sub>),
    Symlink(usize, u8),
    Link(usize, usize),
    Remove(usize),
}

/// Components: case variants, unicode, a long CJK name (over 255 bytes), a sidecar-like
/// name.
fn components() -> Vec<String> {
    vec![
        "a".into(),
        "A".into(),
        "b".into(),
        "é".into(),
        "É".into(),
        "字".repeat(90),
        "x.txt".into(),
        ".wclayer".into(),
    ]
}

/// A pool of names below `Files` (and, for delta layers, elsewhere too).
fn names(delta: bool) -> Vec<String> {
    let comps = components();
    let mut out = Vec::new();
    let tops: &[&str] = if delta {
        &["Files", "files", "Hives", "UtilityVM\\Files", "UtilityVM"]
    } else {
        &["Files", "FILES"]
    };
    for top in tops {
        out.push((*top).to_string());
        for c in &comps {
            out.push(format!("{top}\\{c}"));
            for d in comps.iter().take(4) {
                out.push(format!("{top}\\{c}\\{d}"));
            }
        }
    }
    out
}

fn sub() -> impl Strategy<Value = Sub> {
    let bytes = |n| prop::collection::vec(any::<u8>(), 0..n);
    prop_oneof![
        bytes(40).prop_map(Sub::Sd),
        bytes(40).prop_map(Sub::Ea),
        bytes(3000).prop_map(Sub::Data),
        (0u8..3, bytes(300)).prop_map(|(n, b)| Sub::Ads(n, b)),
        prop::collection::vec((any::<u16>(), bytes(200)), 0..4).prop_map(Sub::Sparse),
    ]
}

fn op(n: usize, delta: bool) -> impl Strategy<Value = Op> {
    let i = 0..n;
    let mut ops = vec![
        (i.clone(), 0u64..50)
            .prop_map(|(i, t)| Op::Dir(i, t))
            .boxed(),
        (i.clone(), 0u64..50, prop::collection::vec(sub(), 0..4))
            .prop_map(|(i, t, s)| Op::File(i, t, s))
            .boxed(),
        (i.clone(), 0u8..4)
            .prop_map(|(i, k)| Op::Symlink(i, k))
            .boxed(),
        (i.clone(), i.clone())
            .prop_map(|(a, b)| Op::Link(a, b))
            .boxed(),
    ];
    if delta {
        ops.push(i.prop_map(Op::Remove).boxed());
    }
    prop::strategy::Union::new(ops)
}

fn stream(subs: &[Sub]) -> Stream {
    let mut s = Stream::new();
    for sub in subs {
        s = match sub {
            Sub::Sd(b) => s.sd(b),
            Sub::Ea(b) => s.ea(b),
            Sub::Data(b) => s.data(b),
            Sub::Ads(n, b) => s.ads(&format!("ads{n}"), b),
            Sub::Sparse(blocks) => {
                let mut off = 0i64;
                let mut v = Vec::new();
                for (gap, b) in blocks {
                    off += i64::from(*gap);
                    v.push((off, b.as_slice()));
                    off += b.len() as i64;
                }
                s.sparse(&v, off + 4096)
            }
        };
    }
    s
}

fn build(ops: &[Op], delta: bool) -> MemLayer {
    let pool = names(delta);
    let mut l = MemLayer::new();
    let targets = ["..\\x", "..\\..\\..\\..\\..\\etc", "C:\\abs", "a\\b"];
    // Names added as files so far: link targets are drawn from them, so that hard-link
    // groups are common.
    let mut files: Vec<usize> = Vec::new();
    for op in ops {
        match op {
            Op::Dir(i, t) => {
                let _ = l.add(&p(&pool[*i]), &dir_info(*t));
            }
            Op::File(i, t, subs) => {
                if l.add(&p(&pool[*i]), &file_info(*t)).is_ok() {
                    l.write_all(stream(subs).bytes()).unwrap();
                    files.push(*i);
                }
            }
            Op::Symlink(i, k) => {
                let rp = ReparsePoint::from_target(targets[*k as usize], *k == 2);
                if l.add(&p(&pool[*i]), &symlink_info(u64::from(*k))).is_ok() {
                    l.write_all(Stream::new().sd(b"sd").reparse(&rp).bytes())
                        .unwrap();
                    files.push(*i);
                }
            }
            Op::Link(a, b) => {
                let target = files.get(b % files.len().max(1)).copied().unwrap_or(*b);
                let _ = l.add_link(&p(&pool[*a]), &p(&pool[target]));
            }
            Op::Remove(i) => {
                let _ = l.remove(&p(&pool[*i]));
            }
        }
    }
    l.close().unwrap();
    l
}

/// Whether the model can copy its own walk (layers with entries below a directory reparse
/// point added late cannot be re-imported by any writer).
fn copyable(l: &mut MemLayer, mode: WalkMode) -> bool {
    l.set_walk_mode(Some(mode));
    let Ok(mut r) = l.reader() else { return false };
    let mut copy = MemLayer::new();
    copy_layer(&mut r, &mut copy).is_ok()
}

fn parent(dir: &std::path::Path) {
    let mut base = MemLayer::new();
    add(&mut base, "Files", dir_info(1), &Stream::new());
    add(&mut base, "UtilityVM", dir_info(2), &Stream::new());
    add(&mut base, "UtilityVM/Files", dir_info(3), &Stream::new());
    add(&mut base, "UtilityVM/Files/a", dir_info(4), &Stream::new());
    add(
        &mut base,
        "UtilityVM/Files/a/x",
        file_info(5),
        &Stream::new().data(b"x").ads("s", b"s"),
    );
    add(
        &mut base,
        "UtilityVM/Files/b",
        file_info(6),
        &Stream::new().data(b"b"),
    );
    base.close().unwrap();
    round_trip(&mut base, dir, "base", &[]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_base_layers(ops in prop::collection::vec(op(names(false).len(), false), 1..30)) {
        let mut l = build(&ops, false);
        // A base walk needs `Files`.
        if l.reader().is_err() {
            let _ = l.add(&p("Files"), &dir_info(0));
        }
        prop_assume!(copyable(&mut l, WalkMode::Base));
        let tmp = tempfile::tempdir().unwrap();
        round_trip(&mut l, tmp.path(), "layer", &[]);
        prop_assert_eq!(ls(tmp.path()), ["layer"]);
    }

    #[test]
    fn random_delta_layers(ops in prop::collection::vec(op(names(true).len(), true), 1..30)) {
        let mut l = build(&ops, true);
        prop_assume!(copyable(&mut l, WalkMode::Delta));
        let tmp = tempfile::tempdir().unwrap();
        parent(tmp.path());
        round_trip(&mut l, tmp.path(), "layer", &["base"]);
        prop_assert_eq!(ls(tmp.path()), ["base", "layer"]);
    }
}
