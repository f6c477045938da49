//! Compressed streams made by the real tools: gzip, zstd, xz and bzip2, several members
//! back to back, nested, and cut short; and files that are no container at all.

use snapsift_testkit::{Rng, sh, workdir, write_file};
use snapsift_unpack::{Kind, LeafEncoding, Limits, Problem};

use crate::common::{config_text, fake_key, unpack_path};

/// (tool, the chain layer it makes, its file suffix). bzip2 with 100 kB blocks: a block cut
/// short decodes to nothing, and the truncation test wants some content before the cut.
const TOOLS: [(&str, &str, &str); 4] = [
    ("gzip", "gzip", "gz"),
    ("zstd -q", "zstd", "zst"),
    ("xz", "xz", "xz"),
    ("bzip2 -1", "bzip2", "bz2"),
];

#[test]
fn each_stream_format_with_several_members_gives_their_concatenation() {
    let dir = workdir();
    let first = config_text("first", &fake_key(1));
    let second = config_text("second", &fake_key(2));
    write_file(dir.path(), "first.txt", &first);
    write_file(dir.path(), "second.txt", &second);
    for (tool, layer, suffix) in TOOLS {
        // Two members (frames, streams) written one after the other, as `cat a.gz b.gz` does.
        sh(
            dir.path(),
            &format!("{tool} -c first.txt > both.{suffix}; {tool} -c second.txt >> both.{suffix}"),
        );
        let (seen, summary) = unpack_path(
            &dir.path().join(format!("both.{suffix}")),
            &Limits::default(),
        );
        assert_eq!(seen.chains(), [layer], "{tool}");
        assert_eq!(seen.text(&[layer]), format!("{first}{second}"), "{tool}");
        let leaf = seen.leaf(&[layer]);
        assert_eq!(
            (leaf.origin, leaf.len, leaf.encoding),
            (None, None, LeafEncoding::Bytes)
        );
        assert!(
            seen.problems.is_empty(),
            "{tool}: {:?}",
            seen.problem_lines()
        );
        assert_eq!(summary.leaves, 1);
        assert_eq!(
            summary.expanded,
            (first.len() + second.len()) as u64,
            "{tool}"
        );
    }
}

#[test]
fn streams_nest() {
    let dir = workdir();
    let text = config_text("nested", &fake_key(3));
    write_file(dir.path(), "app.properties", &text);
    sh(
        dir.path(),
        "bzip2 -c app.properties | xz -c | zstd -q -c | gzip -c > nested.gz",
    );
    let (seen, summary) = unpack_path(&dir.path().join("nested.gz"), &Limits::default());
    let chain = ["gzip", "zstd", "xz", "bzip2"];
    assert_eq!(seen.text(&chain), text);
    assert!(seen.problems.is_empty(), "{:?}", seen.problem_lines());
    assert_eq!(summary.leaves, 1);
}

#[test]
fn a_truncated_stream_gives_what_it_holds_then_a_problem() {
    let dir = workdir();
    // Incompressible, so that cutting the compressed file in half halves the content.
    let content = Rng::new(7).bytes(600_000);
    write_file(dir.path(), "data.bin", &content);
    for (tool, layer, suffix) in TOOLS {
        sh(
            dir.path(),
            &format!(
                "{tool} -c data.bin > full.{suffix}; head -c 300000 full.{suffix} > cut.{suffix}"
            ),
        );
        let (seen, summary) = unpack_path(
            &dir.path().join(format!("cut.{suffix}")),
            &Limits::default(),
        );
        let leaf = seen.leaf(&[layer]);
        assert!(
            leaf.read > 100_000 && leaf.read < 300_000,
            "{tool}: {} bytes read",
            leaf.read
        );
        assert_eq!(
            leaf.content[..],
            content[..leaf.content.len()],
            "{tool}: what was read is the start of the content"
        );
        assert_eq!(seen.problems.len(), 1, "{tool}: {:?}", seen.problem_lines());
        let (chain, problem) = &seen.problems[0];
        assert_eq!(chain, &[layer]);
        assert!(
            matches!(problem, Problem::Corrupt { kind, .. } if kind.as_str() == layer),
            "{tool}: {problem}"
        );
        assert_eq!(
            seen.order,
            [format!("leaf {layer}"), format!("problem {layer}")]
        );
        assert_eq!(summary.problems, 1);
    }
}

#[test]
fn corrupt_xz_data_is_a_problem_not_an_error() {
    let dir = workdir();
    write_file(
        dir.path(),
        "a.txt",
        config_text("a", &fake_key(4)).repeat(100),
    );
    sh(dir.path(), "xz -c a.txt > a.xz");
    let mut bytes = std::fs::read(dir.path().join("a.xz")).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + 16] {
        *byte ^= 0x5A;
    }
    let path = write_file(dir.path(), "bad.xz", &bytes);
    let (seen, _) = unpack_path(&path, &Limits::default());
    assert_eq!(seen.chains(), ["xz"]);
    assert!(
        matches!(
            &seen.problems[..],
            [(_, Problem::Corrupt { kind: Kind::Xz, .. })]
        ),
        "{:?}",
        seen.problem_lines()
    );
}

#[test]
fn a_file_that_is_no_container_is_one_leaf_at_origin_zero() {
    let dir = workdir();
    let text = config_text("plain", &fake_key(5));
    let path = write_file(dir.path(), "plain.txt", &text);
    let (seen, summary) = unpack_path(&path, &Limits::default());
    assert_eq!(seen.leaves.len(), 1);
    let leaf = &seen.leaves[0];
    assert!(leaf.chain.is_empty());
    assert_eq!((leaf.origin, leaf.len), (Some(0), Some(text.len() as u64)));
    assert_eq!(leaf.content, text.as_bytes());
    assert_eq!(summary.expanded, 0);

    let empty = write_file(dir.path(), "empty", b"");
    let (seen, _) = unpack_path(&empty, &Limits::default());
    assert_eq!(seen.leaves.len(), 1);
    assert_eq!(seen.leaves[0].read, 0);
}
