//! Hostile and oversized inputs: decompression bombs (nested zips, a gzip of zeros), nesting
//! past the depth limit, the total expansion limit; and the two ways `unpack` fails, a root
//! that cannot be read and a visitor that gives up.

mod common;

use std::io::{self, Cursor, Read, Seek, SeekFrom};

use common::{Collect, config_text, fake_key, sh, unpack_into, unpack_path, workdir, write};
use snapsift_unpack::{
    Encoding, Kind, Layer, Leaf, Limits, Problem, Summary, UnpackError, Visitor, unpack,
};

#[test]
fn a_nested_zip_bomb_is_cut_by_the_ratio_then_stopped_by_the_total() {
    let dir = workdir();
    // 1000 leaves of 20 MiB of zeros in three levels of zips, the middle one deflated.
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/nested-zip-bomb.sh"
    );
    sh(dir.path(), &format!("sh {script}"));
    let mut visitor = Collect {
        keep: 0,
        ..Collect::default()
    };
    let summary = unpack_into(
        &dir.path().join("bomb.zip"),
        &Limits::default(),
        &mut visitor,
    );
    assert_eq!(summary.expanded, Limits::DEFAULT_MAX_EXPANDED);
    let (last_chain, last) = visitor.problems.last().unwrap();
    assert_eq!(
        *last,
        Problem::ExpandedLimit {
            max_expanded: Limits::DEFAULT_MAX_EXPANDED
        }
    );
    assert_eq!(last_chain.last().unwrap(), "zip:zeros.bin");
    assert_eq!(
        visitor.order.last().unwrap(),
        &format!("problem {}", last_chain.join(" > "))
    );
    // Before that, every leaf was cut by the ratio, far short of its 20 MiB.
    let ratio_cuts = visitor.problems.len() - 1;
    assert!(ratio_cuts > 10, "{ratio_cuts}");
    for (chain, problem) in &visitor.problems[..ratio_cuts] {
        assert_eq!(chain.len(), 4, "{chain:?}");
        assert!(
            matches!(
                problem,
                Problem::RatioLimit {
                    kind: Kind::Zip,
                    max_ratio: 200,
                    ..
                }
            ),
            "{problem}"
        );
    }
    for leaf in &visitor.leaves {
        assert!(leaf.read < 20 << 20, "{:?}: {}", leaf.chain, leaf.read);
    }
    assert_eq!(visitor.leaves.len(), ratio_cuts + 1);
}

#[test]
fn a_gzip_of_zeros_is_a_suspected_bomb() {
    let dir = workdir();
    sh(dir.path(), "head -c 300M /dev/zero | gzip -c > zeros.gz");
    let mut visitor = Collect {
        keep: 0,
        ..Collect::default()
    };
    let summary = unpack_into(
        &dir.path().join("zeros.gz"),
        &Limits::default(),
        &mut visitor,
    );
    let leaf = &visitor.leaves[0];
    assert_eq!(leaf.chain, ["gzip"]);
    assert!(
        leaf.read >= Limits::DEFAULT_RATIO_GRACE && leaf.read < 300 << 20,
        "{}",
        leaf.read
    );
    assert_eq!(summary.expanded, leaf.read);
    match &visitor.problems[..] {
        [
            (
                chain,
                Problem::RatioLimit {
                    kind: Kind::Gzip,
                    produced,
                    consumed,
                    max_ratio: 200,
                },
            ),
        ] => {
            assert_eq!(chain, &["gzip"]);
            assert_eq!(*produced, leaf.read);
            assert_eq!(*produced, 200 * consumed, "cut exactly at the ratio");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn nesting_deeper_than_the_limit_is_visited_as_it_is() {
    let dir = workdir();
    let text = config_text("deep", &fake_key(400));
    write(dir.path(), "l0", &text);
    sh(
        dir.path(),
        "for i in 1 2 3 4 5 6 7 8; do gzip -c l$((i-1)) > l$i; done",
    );
    let (seen, _) = unpack_path(&dir.path().join("l8"), &Limits::default());
    let six = ["gzip"; 6];
    // Six layers expanded; what is left is the level-2 gzip, visited as its bytes.
    assert_eq!(
        seen.leaf(&six).content,
        std::fs::read(dir.path().join("l2")).unwrap()
    );
    assert_eq!(
        seen.problems,
        [(
            six.map(String::from).to_vec(),
            Problem::TooDeep {
                kind: Kind::Gzip,
                max_depth: 6
            }
        )]
    );
    let deeper = Limits {
        max_depth: 8,
        ..Limits::default()
    };
    let (seen, _) = unpack_path(&dir.path().join("l8"), &deeper);
    assert_eq!(seen.text(&["gzip"; 8]), text);
    assert!(seen.problems.is_empty());

    let none = Limits {
        max_depth: 0,
        ..Limits::default()
    };
    let (seen, _) = unpack_path(&dir.path().join("l8"), &none);
    assert_eq!(seen.leaf(&[]).origin, Some(0));
    assert_eq!(seen.problems.len(), 1);
}

#[test]
fn the_total_expansion_limit_stops_everything_at_once() {
    let dir = workdir();
    for i in 0..5 {
        write(
            dir.path(),
            &format!("d/{i}.txt"),
            config_text(&format!("f{i}"), &fake_key(410 + i)).repeat(30),
        );
    }
    sh(dir.path(), "tar -czf d.tar.gz d");
    let limits = Limits {
        max_expanded: 10_000,
        ..Limits::default()
    };
    let (seen, summary) = unpack_path(&dir.path().join("d.tar.gz"), &limits);
    assert_eq!(summary.expanded, 10_000);
    assert_eq!(
        seen.problems,
        [(
            vec!["gzip".to_string()],
            Problem::ExpandedLimit {
                max_expanded: 10_000
            }
        )]
    );
    // Everything before the cut was visited, nothing after it.
    let read: u64 = seen.leaves.iter().map(|leaf| leaf.read).sum();
    assert!(read < 10_000 && !seen.leaves.is_empty(), "{read}");
    assert_eq!(seen.order.last().unwrap(), "problem gzip");
}

/// A root that fails every read at or past `fail_at`.
struct Failing {
    inner: Cursor<Vec<u8>>,
    fail_at: u64,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.inner.position() + buf.len() as u64 > self.fail_at {
            return Err(io::Error::other("bad sector"));
        }
        self.inner.read(buf)
    }
}

impl Seek for Failing {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

#[test]
fn a_root_that_cannot_be_read_is_an_error() {
    let dir = workdir();
    write(dir.path(), "a.txt", "a\n".repeat(50_000));
    write(dir.path(), "b.txt", "b\n".repeat(50_000));
    sh(
        dir.path(),
        "tar -cf ab.tar a.txt b.txt && gzip -c ab.tar > ab.tar.gz",
    );
    for name in ["ab.tar", "ab.tar.gz"] {
        let bytes = std::fs::read(dir.path().join(name)).unwrap();
        let len = bytes.len() as u64;
        let root = Failing {
            inner: Cursor::new(bytes),
            fail_at: len / 2,
        };
        let mut visitor = Collect::default();
        match unpack(root, len, &Limits::default(), &mut visitor) {
            Err(UnpackError::Read { offset, source }) => {
                assert!(offset < len, "{name}: {offset}");
                assert_eq!(source.to_string(), "bad sector");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(
            visitor.problems.is_empty(),
            "{name}: {:?}",
            visitor.problem_lines()
        );
    }
}

/// Gives up at the second leaf.
struct GiveUp(u32);

impl Visitor for GiveUp {
    type Error = String;

    fn leaf(&mut self, _: &Leaf<'_>, _: &mut dyn Read) -> Result<(), String> {
        self.0 += 1;
        if self.0 == 2 {
            return Err("enough".into());
        }
        Ok(())
    }

    fn problem(&mut self, _: &[Layer], problem: &Problem) -> Result<(), String> {
        Err(problem.to_string())
    }
}

#[test]
fn a_visitor_error_ends_the_walk() {
    let dir = workdir();
    for i in 0..4 {
        write(dir.path(), &format!("{i}.txt"), "x\n");
    }
    sh(dir.path(), "zip -q four.zip 0.txt 1.txt 2.txt 3.txt");
    let path = dir.path().join("four.zip");
    let file = std::fs::File::open(&path).unwrap();
    let len = file.metadata().unwrap().len();
    let mut visitor = GiveUp(0);
    match unpack(file, len, &Limits::default(), &mut visitor) {
        Err(UnpackError::Visitor(message)) => assert_eq!(message, "enough"),
        other => panic!("{other:?}"),
    }
    assert_eq!(visitor.0, 2);
}

#[test]
fn what_is_handed_out_can_cross_threads() {
    fn send<T: Send + Sync>() {}
    send::<Limits>();
    send::<Kind>();
    send::<Layer>();
    send::<Problem>();
    send::<Summary>();
    send::<Encoding>();
    send::<UnpackError<io::Error>>();
}

/// Bombs nested in streams: a gzip of a gzip of zeros, and zeros through zstd, xz and gzip.
/// The outer layers expand little (a compressed stream of zeros compresses about 10:1); the
/// innermost, at 1000:1 or more, is cut by the ratio, and the whole expands to a few MiB, not
/// to the 256 MiB inside.
#[test]
fn nested_stream_bombs_are_cut_at_the_layer_that_explodes() {
    let dir = workdir();
    sh(
        dir.path(),
        "head -c 256M /dev/zero | gzip -1 | gzip -9 > zeros.gz.gz \
         && head -c 256M /dev/zero | zstd -q -19 | xz -9 | gzip -9 > zeros.zst.xz.gz",
    );
    for (name, kinds) in [
        ("zeros.gz.gz", &[Kind::Gzip, Kind::Gzip][..]),
        ("zeros.zst.xz.gz", &[Kind::Gzip, Kind::Xz, Kind::Zstd][..]),
    ] {
        let path = dir.path().join(name);
        let mut visitor = Collect {
            keep: 0,
            ..Collect::default()
        };
        let summary = unpack_into(&path, &Limits::default(), &mut visitor);
        let chain: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        assert_eq!(visitor.chains(), [chain.join(" > ")], "{name}");
        match &visitor.problems[..] {
            [
                (
                    at,
                    Problem::RatioLimit {
                        kind,
                        max_ratio: 200,
                        ..
                    },
                ),
            ] => {
                assert_eq!(at, &chain, "{name}");
                assert_eq!(kind, kinds.last().unwrap(), "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(
            summary.expanded < 16 << 20,
            "{name}: {} bytes expanded",
            summary.expanded
        );
    }
}
