//! tar archives made by GNU tar: every header dialect, members read in place (with their
//! offsets in the archive) or through a compressed stream, and archives cut or damaged.

use snapsift_testkit::{Rng, sh, workdir, write_file};
use snapsift_unpack::{Kind, Limits, Problem};

use crate::common::{assert_origins, config_text, fake_key, unpack_path, write_members};

/// A path longer than the 100 bytes of the name field.
const LONG_DIR: &str =
    "very/deeply/nested/directory/structure/that/goes/on/and/on/beyond/one/hundred/bytes";

/// Writes the tree every format test archives, and returns (path, content) for its files.
fn tree(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let files = vec![
        (
            "src/short.txt".to_string(),
            config_text("short", &fake_key(10)).into_bytes(),
        ),
        (
            format!("src/{LONG_DIR}/application.properties"),
            config_text("long", &fake_key(11)).into_bytes(),
        ),
        ("src/empty".to_string(), Vec::new()),
        ("src/block.bin".to_string(), vec![b'x'; 512]),
        // Larger than the readers' buffers and not a multiple of the block size.
        ("src/random.bin".to_string(), Rng::new(12).bytes(200_001)),
    ];
    for (path, content) in &files {
        write_file(dir, path, content);
    }
    sh(dir, "ln -s short.txt src/link && mkdir -p src/emptydir");
    files
}

#[test]
fn every_header_dialect_gives_each_file_with_its_offset() {
    for format in ["gnu", "pax", "ustar", "v7"] {
        let dir = workdir();
        let mut files = tree(dir.path());
        if format == "v7" || format == "ustar" {
            // v7 names stop at 100 bytes; ustar splits up to 255 into prefix and name.
            files.retain(|(path, _)| !path.contains(LONG_DIR) || format == "ustar");
            if format == "v7" {
                sh(
                    dir.path(),
                    &format!("rm -r 'src/{}'", LONG_DIR.split('/').next().unwrap()),
                );
            }
        }
        sh(dir.path(), &format!("tar --format={format} -cf a.tar src"));
        let archive = dir.path().join("a.tar");
        let (seen, summary) = unpack_path(&archive, &Limits::default());
        assert!(
            seen.problems.is_empty(),
            "{format}: {:?}",
            seen.problem_lines()
        );
        let mut chains = seen.chains();
        chains.sort();
        let mut expected: Vec<String> = files
            .iter()
            .map(|(path, _)| format!("tar:{path}"))
            .collect();
        expected.sort();
        assert_eq!(
            chains, expected,
            "{format}: directories and links are not leaves"
        );
        for (path, content) in &files {
            let leaf = seen.leaf(&[&format!("tar:{path}")]);
            assert_eq!(&leaf.content, content, "{format}: {path}");
            assert_eq!(leaf.len, Some(content.len() as u64));
            assert!(leaf.origin.is_some(), "{format}: {path} is stored verbatim");
        }
        assert_origins(&archive, &seen);
        assert_eq!(summary.leaves, files.len() as u64);
        assert_eq!(summary.expanded, 0);
    }
}

#[test]
fn a_compressed_tar_gives_its_members_through_the_stream() {
    let dir = workdir();
    let files = tree(dir.path());
    for (flag, layer) in [
        ("-z", "gzip"),
        ("--zstd", "zstd"),
        ("-J", "xz"),
        ("-j", "bzip2"),
    ] {
        sh(dir.path(), &format!("tar {flag} -cf a.tar.any src"));
        let (seen, _) = unpack_path(&dir.path().join("a.tar.any"), &Limits::default());
        assert!(
            seen.problems.is_empty(),
            "{layer}: {:?}",
            seen.problem_lines()
        );
        assert_eq!(seen.leaves.len(), files.len(), "{layer}");
        for (path, content) in &files {
            let leaf = seen.leaf(&[layer, &format!("tar:{path}")]);
            assert_eq!(&leaf.content, content, "{layer}: {path}");
            assert_eq!(
                leaf.origin, None,
                "{layer}: decompressed bytes have no origin"
            );
        }
    }
}

#[test]
fn gnu_sparse_members_give_their_data_and_the_archive_goes_on() {
    let dir = workdir();
    // Six islands of data in holes: more than the four map entries a GNU header holds, so
    // the map goes on in an extension block.
    let mut script = String::from("truncate -s 8M sparse.img\n");
    let mut islands = Vec::new();
    for i in 0..6u64 {
        let text = config_text(&format!("island{i}"), &fake_key(20 + i));
        write_file(dir.path(), &format!("island{i}"), &text);
        script += &format!(
            "dd if=island{i} of=sparse.img bs=4096 seek={} conv=notrunc status=none\n",
            i * 300 + 7
        );
        islands.push(text);
    }
    let after = config_text("after", &fake_key(30));
    write_file(dir.path(), "after.txt", &after);
    script += "tar --format=gnu -S -cf a.tar sparse.img after.txt";
    sh(dir.path(), &script);
    let archive = dir.path().join("a.tar");
    let (seen, _) = unpack_path(&archive, &Limits::default());
    assert!(seen.problems.is_empty(), "{:?}", seen.problem_lines());
    let data = String::from_utf8_lossy(&seen.leaf(&["tar:sparse.img"]).content).into_owned();
    for text in &islands {
        assert!(
            data.contains(text.as_str()),
            "island missing from {} bytes",
            data.len()
        );
    }
    assert!(
        data.len() < 1 << 20,
        "only the data is stored, not the holes"
    );
    assert_eq!(seen.text(&["tar:after.txt"]), after);
    assert_origins(&archive, &seen);
}

#[test]
fn a_truncated_tar_gives_what_it_holds_then_a_problem() {
    let dir = workdir();
    let first = config_text("first", &fake_key(40));
    let second = Rng::new(41).bytes(100_000);
    write_file(dir.path(), "d/first.txt", &first);
    write_file(dir.path(), "d/second.bin", &second);
    write_file(dir.path(), "d/third.txt", "never reached");
    sh(
        dir.path(),
        "tar -cf full.tar d/first.txt d/second.bin d/third.txt && head -c 51200 full.tar > cut.tar \
         && gzip -c full.tar | head -c 30000 > cut.tar.gz",
    );
    let (seen, _) = unpack_path(&dir.path().join("cut.tar"), &Limits::default());
    assert_eq!(seen.text(&["tar:d/first.txt"]), first);
    let partial = seen.leaf(&["tar:d/second.bin"]);
    // Header blocks: first.txt's (512) + its data (512) + second.bin's (512).
    assert_eq!(partial.content, second[..51200 - 1536]);
    assert_eq!(
        seen.problems,
        [(
            vec!["tar:d/second.bin".to_string()],
            Problem::Truncated {
                kind: Kind::Tar,
                declared: 100_000,
                present: 51200 - 1536
            }
        )]
    );
    assert_eq!(seen.order.last().unwrap(), "problem tar:d/second.bin");

    // Through gzip, the stream says it was cut; the tar member's shortness is its consequence.
    let (seen, _) = unpack_path(&dir.path().join("cut.tar.gz"), &Limits::default());
    assert_eq!(seen.text(&["gzip", "tar:d/first.txt"]), first);
    assert!(seen.leaf(&["gzip", "tar:d/second.bin"]).read < 100_000);
    assert!(
        matches!(&seen.problems[..], [(chain, Problem::Corrupt { kind: Kind::Gzip, .. })] if chain == &["gzip"]),
        "{:?}",
        seen.problem_lines()
    );
}

#[test]
fn a_damaged_header_ends_the_archive_with_a_problem() {
    let dir = workdir();
    write_file(dir.path(), "a.txt", config_text("a", &fake_key(50)));
    write_file(dir.path(), "b.txt", config_text("b", &fake_key(51)));
    sh(dir.path(), "tar -cf a.tar a.txt b.txt");
    let mut bytes = std::fs::read(dir.path().join("a.tar")).unwrap();
    // b.txt's header is the third block; change its name.
    bytes[1024] = b'X';
    let path = write_file(dir.path(), "bad.tar", &bytes);
    let (seen, _) = unpack_path(&path, &Limits::default());
    assert_eq!(seen.chains(), ["tar:a.txt"]);
    assert_eq!(seen.problems.len(), 1);
    assert_eq!(seen.problems[0].0, ["tar"]);
    assert!(
        seen.problem_lines()[0].contains("checksum"),
        "{:?}",
        seen.problem_lines()
    );
}

#[test]
fn too_many_members_stops_at_the_limit() {
    let dir = workdir();
    write_members(dir.path(), 12);
    sh(dir.path(), "cd m && tar -cf ../many.tar *.txt");
    let limits = Limits {
        max_entries: 5,
        ..Limits::default()
    };
    let (seen, summary) = unpack_path(&dir.path().join("many.tar"), &limits);
    assert_eq!(
        seen.chains(),
        [
            "tar:00.txt",
            "tar:01.txt",
            "tar:02.txt",
            "tar:03.txt",
            "tar:04.txt"
        ]
    );
    assert_eq!(
        seen.problems,
        [(
            vec!["tar".to_string()],
            Problem::TooManyEntries {
                kind: Kind::Tar,
                max_entries: 5,
                visited: 5
            }
        )]
    );
    assert_eq!(summary.problems, 1);
}
