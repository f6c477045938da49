//! Hostile and oversized inputs: decompression bombs (nested zips, a gzip of zeros) cut at
//! the file's expansion budget while long runs of zeros in an ordinary archive are not,
//! nesting past the depth limit, zstd windows past theirs; and the two ways `unpack` fails, a
//! root that cannot be read and a visitor that gives up.

use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use snapsift_testkit::{Rng, sh, workdir, write_file};
use snapsift_unpack::{
    Kind, Layer, Leaf, LeafEncoding, Limits, Problem, Summary, UnpackError, Visitor,
    XZ_MEMORY_LIMIT, unpack,
};

use crate::common::{Collect, config_text, fake_key, unpack_into, unpack_path};

/// The expansion budget of the file at `path` under the default limits.
fn budget_of(path: &Path) -> u64 {
    Limits::default().expansion_budget(std::fs::metadata(path).unwrap().len())
}

#[test]
fn a_nested_zip_bomb_is_cut_at_the_files_expansion_budget() {
    let dir = workdir();
    // 1000 leaves of 20 MiB of zeros in three levels of zips, the middle one deflated.
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/nested-zip-bomb.sh"
    );
    sh(dir.path(), &format!("sh {script}"));
    let path = dir.path().join("bomb.zip");
    let budget = budget_of(&path);
    assert!(budget < 1 << 30, "{budget}");
    let mut visitor = Collect {
        keep: 0,
        ..Collect::default()
    };
    let summary = unpack_into(&path, &Limits::default(), &mut visitor);
    assert_eq!(summary.expanded, budget);
    // One problem, for the leaf being read when the budget was spent; nothing after it.
    match &visitor.problems[..] {
        [(chain, problem)] => {
            assert_eq!(*problem, Problem::ExpandedLimit { budget });
            assert_eq!(chain.len(), 4, "{chain:?}");
            assert_eq!(chain.last().unwrap(), "zip:zeros.bin");
            assert_eq!(
                visitor.order.last().unwrap(),
                &format!("problem {}", chain.join(" > "))
            );
            let limit = problem.limit().unwrap();
            assert_eq!((limit.name, limit.value), ("expansion_budget", budget));
        }
        other => panic!("{other:?}"),
    }
    // Every leaf before the last was read whole; far fewer than the 1000 leaves were seen.
    let (last, whole) = visitor.leaves.split_last().unwrap();
    assert!(whole.iter().all(|leaf| leaf.read == 20 << 20));
    assert!(last.read < 20 << 20);
    assert!(visitor.leaves.len() < 100, "{}", visitor.leaves.len());
}

#[test]
fn a_gzip_of_zeros_is_a_suspected_bomb() {
    let dir = workdir();
    sh(dir.path(), "head -c 300M /dev/zero | gzip -c > zeros.gz");
    let path = dir.path().join("zeros.gz");
    let budget = budget_of(&path);
    assert_eq!(budget, Limits::DEFAULT_EXPANSION_FLOOR, "a small file");
    let mut visitor = Collect {
        keep: 0,
        ..Collect::default()
    };
    let summary = unpack_into(&path, &Limits::default(), &mut visitor);
    let leaf = &visitor.leaves[0];
    assert_eq!(leaf.chain, ["gzip"]);
    assert_eq!(leaf.read, budget, "cut exactly at the budget");
    assert_eq!(summary.expanded, budget);
    assert_eq!(
        visitor.problems,
        [(vec!["gzip".to_string()], Problem::ExpandedLimit { budget })]
    );
}

/// A backup whose first member is a preallocated database file, 50 MB of zeros (200 times
/// more than the 50 kB they compress to), then a `.env`: the zeros are no bomb, and the
/// `.env` after them is read.
#[test]
fn a_tar_gz_of_50_mb_of_zeros_then_a_secret_is_read_to_its_end() {
    let dir = workdir();
    let secret = fake_key(77);
    write_file(dir.path(), "app/.env", config_text("env", &secret));
    sh(
        dir.path(),
        "head -c 50000000 /dev/zero > app/prealloc.db && tar -cf backup.tar -C app prealloc.db .env \
         && gzip -9 backup.tar",
    );
    let path = dir.path().join("backup.tar.gz");
    assert!(std::fs::metadata(&path).unwrap().len() < 100_000);
    let (seen, summary) = unpack_path(&path, &Limits::default());
    assert!(seen.problems.is_empty(), "{:?}", seen.problem_lines());
    assert_eq!(seen.leaf(&["gzip", "tar:prealloc.db"]).read, 50_000_000);
    assert_eq!(
        seen.text(&["gzip", "tar:.env"]),
        config_text("env", &secret)
    );
    assert!(summary.expanded > 50_000_000);
}

/// `levels` tar.gz files, each holding the one below: the innermost holds `secret.txt`.
/// Returns the outermost.
fn nested_tar_gz(dir: &Path, levels: u32, secret: &str) -> PathBuf {
    let work = dir.join(format!("nest-{levels}"));
    write_file(&work, "secret.txt", config_text("nested", secret));
    sh(
        &work,
        &format!(
            "tar -czf l1.tar.gz secret.txt && for i in $(seq 2 {levels}); do \
             tar -czf l$i.tar.gz l$((i-1)).tar.gz; done"
        ),
    );
    work.join(format!("l{levels}.tar.gz"))
}

/// The chain down to the secret of [`nested_tar_gz`]: gzip and tar members, level by level.
fn nested_chain(levels: u32) -> Vec<String> {
    (1..=levels)
        .rev()
        .flat_map(|level| {
            let member = match level {
                1 => "secret.txt".to_string(),
                _ => format!("l{}.tar.gz", level - 1),
            };
            ["gzip".to_string(), format!("tar:{member}")]
        })
        .collect()
}

#[test]
fn secrets_four_and_eight_tar_gz_levels_deep_are_found() {
    let dir = workdir();
    for levels in [4, 8, 10] {
        let secret = fake_key(u64::from(levels));
        let path = nested_tar_gz(dir.path(), levels, &secret);
        let (seen, _) = unpack_path(&path, &Limits::default());
        assert!(seen.problems.is_empty(), "{:?}", seen.problem_lines());
        let chain = nested_chain(levels);
        let chain: Vec<&str> = chain.iter().map(String::as_str).collect();
        assert_eq!(
            seen.text(&chain),
            config_text("nested", &secret),
            "{levels}"
        );
    }
}

#[test]
fn a_secret_deeper_than_the_limit_is_a_problem_that_names_it() {
    let dir = workdir();
    let path = nested_tar_gz(dir.path(), 11, &fake_key(11));
    let (seen, _) = unpack_path(&path, &Limits::default());
    // Ten levels (20 layers) expanded; the eleventh level's tar.gz is visited as its bytes.
    let mut chain = nested_chain(11);
    chain.truncate(20);
    assert_eq!(chain.last().unwrap(), "tar:l1.tar.gz");
    let leaf: Vec<&str> = chain.iter().map(String::as_str).collect();
    assert_eq!(
        seen.leaf(&leaf).content,
        std::fs::read(path.with_file_name("l1.tar.gz")).unwrap()
    );
    let problem = Problem::TooDeep {
        kind: Kind::Gzip,
        max_depth: 20,
    };
    assert_eq!(seen.problems, [(chain, problem.clone())]);
    let limit = problem.limit().unwrap();
    assert_eq!((limit.name, limit.value), ("max_depth", 20));
}

#[test]
fn nesting_deeper_than_the_limit_is_visited_as_it_is() {
    let dir = workdir();
    let text = config_text("deep", &fake_key(400));
    write_file(dir.path(), "l0", &text);
    sh(
        dir.path(),
        "for i in 1 2 3 4 5 6 7 8; do gzip -c l$((i-1)) > l$i; done",
    );
    let six = Limits {
        max_depth: 6,
        ..Limits::default()
    };
    let (seen, _) = unpack_path(&dir.path().join("l8"), &six);
    let gzips = ["gzip"; 6];
    // Six layers expanded; what is left is the level-2 gzip, visited as its bytes.
    assert_eq!(
        seen.leaf(&gzips).content,
        std::fs::read(dir.path().join("l2")).unwrap()
    );
    assert_eq!(
        seen.problems,
        [(
            gzips.map(String::from).to_vec(),
            Problem::TooDeep {
                kind: Kind::Gzip,
                max_depth: 6
            }
        )]
    );
    let (seen, _) = unpack_path(&dir.path().join("l8"), &Limits::default());
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
fn the_expansion_budget_stops_everything_at_once() {
    let dir = workdir();
    for i in 0..5 {
        write_file(
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
            Problem::ExpandedLimit { budget: 10_000 }
        )]
    );
    // Everything before the cut was visited, nothing after it.
    let read: u64 = seen.leaves.iter().map(|leaf| leaf.read).sum();
    assert!(read < 10_000 && !seen.leaves.is_empty(), "{read}");
    assert_eq!(seen.order.last().unwrap(), "problem gzip");
}

/// zstd frames whose window is larger than [`Limits::max_zstd_window`] (`--long`, `--ultra`)
/// are not decoded, and the problem names the limit; level 19, at the limit, is decoded.
#[test]
fn a_zstd_window_past_the_limit_is_a_problem_that_names_it() {
    let dir = workdir();
    let secret = fake_key(500);
    // 12 MiB that do not compress, so that the whole window is used.
    let mut data = config_text("zstd", &secret).into_bytes();
    data.extend(Rng::new(500).bytes(12 << 20));
    write_file(dir.path(), "data.bin", &data);
    sh(
        dir.path(),
        "zstd -q -19 -c data.bin > l19.zst && zstd -q --long=25 -c < data.bin > long.zst \
         && zstd -q --ultra -22 -c data.bin > ultra.zst",
    );
    let (seen, _) = unpack_path(&dir.path().join("l19.zst"), &Limits::default());
    assert!(seen.problems.is_empty(), "{:?}", seen.problem_lines());
    assert_eq!(seen.leaf(&["zstd"]).content, data);
    for name in ["long.zst", "ultra.zst"] {
        let (seen, _) = unpack_path(&dir.path().join(name), &Limits::default());
        let problem = Problem::TooMuchMemory {
            kind: Kind::Zstd,
            limit: 8 << 20,
        };
        assert_eq!(seen.problems, [(vec!["zstd".to_string()], problem.clone())]);
        assert!(seen.leaf(&["zstd"]).content.is_empty(), "{name}");
        let limit = problem.limit().unwrap();
        assert_eq!((limit.name, limit.value), ("max_zstd_window", 8 << 20));
        // With room for its window, it is decoded.
        let roomy = Limits {
            max_zstd_window: 32 << 20,
            ..Limits::default()
        };
        let (seen, _) = unpack_path(&dir.path().join(name), &roomy);
        assert!(seen.problems.is_empty(), "{:?}", seen.problem_lines());
        assert_eq!(seen.leaf(&["zstd"]).content, data, "{name}");
    }
}

/// An xz stream whose dictionary needs more memory than [`XZ_MEMORY_LIMIT`] is not decoded,
/// and the problem names the limit.
#[test]
fn an_xz_dictionary_past_the_memory_limit_is_a_problem_that_names_it() {
    let dir = workdir();
    write_file(dir.path(), "a.txt", config_text("xz", &fake_key(501)));
    sh(dir.path(), "xz --lzma2=dict=512MiB -c a.txt > big-dict.xz");
    let (seen, _) = unpack_path(&dir.path().join("big-dict.xz"), &Limits::default());
    let problem = Problem::TooMuchMemory {
        kind: Kind::Xz,
        limit: XZ_MEMORY_LIMIT,
    };
    assert_eq!(seen.problems, [(vec!["xz".to_string()], problem.clone())]);
    let limit = problem.limit().unwrap();
    assert_eq!((limit.name, limit.value), ("xz_memory", 256 << 20));
    assert!(problem.to_string().contains("256 MiB"), "{problem}");
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
    write_file(dir.path(), "a.txt", "a\n".repeat(50_000));
    write_file(dir.path(), "b.txt", "b\n".repeat(50_000));
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
        write_file(dir.path(), &format!("{i}.txt"), "x\n");
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
    send::<LeafEncoding>();
    send::<UnpackError<io::Error>>();
}

/// Bombs nested in streams: a gzip of a gzip of zeros, and zeros through zstd, xz and gzip.
/// The outer layers expand little (a compressed stream of zeros compresses about 10:1); the
/// innermost spends the file's budget and is cut there, and the whole expands to the budget,
/// not to the 256 MiB inside.
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
        let budget = budget_of(&path);
        assert!(budget < 256 << 20);
        let mut visitor = Collect {
            keep: 0,
            ..Collect::default()
        };
        let summary = unpack_into(&path, &Limits::default(), &mut visitor);
        let chain: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        assert_eq!(visitor.chains(), [chain.join(" > ")], "{name}");
        assert_eq!(
            visitor.problems,
            [(chain, Problem::ExpandedLimit { budget })],
            "{name}"
        );
        assert_eq!(summary.expanded, budget, "{name}");
        assert!(visitor.leaves[0].read < budget, "{name}");
    }
}
