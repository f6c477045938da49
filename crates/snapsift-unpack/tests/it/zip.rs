//! zip archives made by Info-ZIP's zip: stored and deflated members, nesting (stored in
//! stored, with offsets in the root; inside streams, held in memory), and every way a member
//! or an archive can fail to be read.

use std::sync::Arc;

use snapsift_testkit::{Rng, sh, workdir, write_file};
use snapsift_unpack::{BufferPool, Kind, LeafEncoding, Limits, Problem, unpack_with_pool};

use crate::common::{Collect, assert_origins, config_text, fake_key, unpack_path, write_members};

#[test]
fn stored_and_deflated_members() {
    let dir = workdir();
    let text = config_text("app", &fake_key(100));
    let random = Rng::new(101).bytes(150_000);
    write_file(dir.path(), "t/conf/app.properties", &text);
    write_file(dir.path(), "t/data/random.bin", &random);
    sh(
        dir.path(),
        "cd t && zip -q -r -0 ../stored.zip conf data && zip -q -r -9 ../deflated.zip conf data",
    );
    for (name, stored) in [("stored.zip", true), ("deflated.zip", false)] {
        let archive = dir.path().join(name);
        let (seen, summary) = unpack_path(&archive, &Limits::default());
        assert!(
            seen.problems.is_empty(),
            "{name}: {:?}",
            seen.problem_lines()
        );
        assert_eq!(
            seen.chains(),
            ["zip:conf/app.properties", "zip:data/random.bin"],
            "{name}: directories are not leaves"
        );
        let leaf = seen.leaf(&["zip:conf/app.properties"]);
        assert_eq!(leaf.content, text.as_bytes());
        assert_eq!(leaf.len, Some(text.len() as u64));
        assert_eq!(leaf.origin.is_some(), stored, "{name}");
        assert_eq!(seen.leaf(&["zip:data/random.bin"]).content, random);
        assert_origins(&archive, &seen);
        assert_eq!(summary.expanded == 0, stored, "{name}");
    }
}

#[test]
fn stored_zips_nest_in_place_with_their_offsets() {
    let dir = workdir();
    let secret = config_text("inner", &fake_key(110));
    write_file(dir.path(), "secret.txt", &secret);
    write_file(dir.path(), "readme.txt", "nothing to see\n");
    sh(
        dir.path(),
        "zip -q -0 inner.zip secret.txt && zip -q -0 middle.zip inner.zip readme.txt \
         && zip -q -0 outer.zip middle.zip && tar -cf outer.tar outer.zip",
    );
    let outer = dir.path().join("outer.zip");
    let (seen, _) = unpack_path(&outer, &Limits::default());
    assert!(seen.problems.is_empty(), "{:?}", seen.problem_lines());
    let chain = ["zip:middle.zip", "zip:inner.zip", "zip:secret.txt"];
    let leaf = seen.leaf(&chain);
    assert_eq!(leaf.content, secret.as_bytes());
    assert!(
        leaf.origin.is_some(),
        "stored in stored in stored lies verbatim in the root"
    );
    assert_origins(&outer, &seen);

    let tar = dir.path().join("outer.tar");
    let (seen, _) = unpack_path(&tar, &Limits::default());
    let leaf = seen.leaf(&["tar:outer.zip", chain[0], chain[1], chain[2]]);
    assert_eq!(leaf.content, secret.as_bytes());
    assert!(leaf.origin.is_some());
    assert_origins(&tar, &seen);
}

#[test]
fn streams_and_utf16_inside_a_zip() {
    let dir = workdir();
    let log = config_text("log", &fake_key(120)).repeat(20);
    let utf16 = config_text("windows", &fake_key(121));
    write_file(dir.path(), "app.log", &log);
    write_file(dir.path(), "win.txt", &utf16);
    sh(
        dir.path(),
        "gzip -c app.log > app.log.gz && iconv -f UTF-8 -t UTF-16LE win.txt > win16.txt \
         && zip -q bundle.zip app.log.gz win16.txt && zip -q -0 bundle0.zip app.log.gz win16.txt",
    );
    for name in ["bundle.zip", "bundle0.zip"] {
        let (seen, _) = unpack_path(&dir.path().join(name), &Limits::default());
        assert!(
            seen.problems.is_empty(),
            "{name}: {:?}",
            seen.problem_lines()
        );
        assert_eq!(seen.text(&["zip:app.log.gz", "gzip"]), log, "{name}");
        let text = seen.leaf(&["zip:win16.txt", "utf-16le"]);
        assert_eq!(text.content, utf16.as_bytes(), "{name}");
        assert_eq!((text.encoding, text.origin), (LeafEncoding::Utf16Le, None));
    }
}

#[test]
fn a_zip_inside_a_stream_is_held_in_memory_within_the_limit() {
    let dir = workdir();
    let secret = config_text("buffered", &fake_key(130));
    write_file(dir.path(), "secret.txt", &secret);
    write_file(dir.path(), "noise.bin", Rng::new(131).bytes(300_000));
    sh(
        dir.path(),
        "zip -q -0 a.zip secret.txt noise.bin && gzip -c a.zip > a.zip.gz",
    );
    let path = dir.path().join("a.zip.gz");
    let (seen, _) = unpack_path(&path, &Limits::default());
    assert!(seen.problems.is_empty(), "{:?}", seen.problem_lines());
    let leaf = seen.leaf(&["gzip", "zip:secret.txt"]);
    assert_eq!(leaf.content, secret.as_bytes());
    assert_eq!(leaf.origin, None, "held in memory: no offset in the root");

    // Too big for the memory allowed: its bytes as they are, then the problem.
    let limits = Limits {
        max_buffered: 100_000,
        ..Limits::default()
    };
    let (seen, _) = unpack_path(&path, &limits);
    let zip = std::fs::read(dir.path().join("a.zip")).unwrap();
    assert_eq!(seen.leaf(&["gzip"]).content, zip);
    assert_eq!(
        seen.problems,
        [(
            vec!["gzip".to_string(), "zip".to_string()],
            Problem::TooBigToBuffer {
                max_buffered: 100_000
            }
        )]
    );
    assert_eq!(seen.order, ["leaf gzip", "problem gzip > zip"]);
}

/// A file pass expands one file per thread: zips held in memory by calls running at once
/// share one pool, so that together they hold at most its capacity, and a call waits for
/// room rather than give up, so each expands what it would alone.
#[test]
fn zips_held_in_memory_by_threads_at_once_share_one_pool() {
    let dir = workdir();
    let secret = config_text("pooled", &fake_key(140));
    write_file(dir.path(), "secret.txt", &secret);
    write_file(dir.path(), "noise.bin", Rng::new(141).bytes(300_000));
    sh(
        dir.path(),
        "zip -q -0 a.zip secret.txt noise.bin && gzip -c a.zip > a.zip.gz",
    );
    let path = dir.path().join("a.zip.gz");
    let zip_len = std::fs::metadata(dir.path().join("a.zip")).unwrap().len();
    // Room for one of these zips at a time, not two.
    let limits = Limits {
        max_buffered: zip_len + 1000,
        ..Limits::default()
    };
    let (alone, _) = unpack_path(&path, &limits);
    assert!(alone.problems.is_empty(), "{:?}", alone.problem_lines());
    let pool = Arc::new(BufferPool::for_limits(&limits));
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..5 {
                    let file = std::fs::File::open(&path).unwrap();
                    let len = file.metadata().unwrap().len();
                    let mut seen = Collect::default();
                    unpack_with_pool(file, len, &limits, &pool, &mut seen).unwrap();
                    assert_eq!(seen.order, alone.order);
                    assert_eq!(seen.text(&["gzip", "zip:secret.txt"]), secret);
                }
            });
        }
    });
    assert_eq!(pool.used(), 0, "everything held was given back");
}

#[test]
fn a_corrupt_member_in_the_middle_does_not_hide_the_others() {
    let dir = workdir();
    let texts: Vec<String> = (0..3)
        .map(|i| config_text(&format!("m{i}"), &fake_key(140 + i)).repeat(40))
        .collect();
    for (i, text) in texts.iter().enumerate() {
        write_file(dir.path(), &format!("m{i}.txt"), text);
    }
    sh(dir.path(), "zip -q three.zip m0.txt m1.txt m2.txt");
    let mut bytes = std::fs::read(dir.path().join("three.zip")).unwrap();
    let data = local_data(&bytes, "m1.txt");
    // Damage the middle of m1's deflate data.
    let middle = data.start + data.len() / 2;
    for byte in &mut bytes[middle..middle + 8] {
        *byte = !*byte;
    }
    let path = write_file(dir.path(), "damaged.zip", &bytes);
    let (seen, _) = unpack_path(&path, &Limits::default());
    assert_eq!(seen.text(&["zip:m0.txt"]), texts[0]);
    assert_eq!(seen.text(&["zip:m2.txt"]), texts[2]);
    assert!(seen.leaf(&["zip:m1.txt"]).content != texts[1].as_bytes());
    assert!(
        matches!(&seen.problems[..], [(chain, Problem::Corrupt { kind: Kind::Zip, .. })] if chain == &["zip:m1.txt"]),
        "{:?}",
        seen.problem_lines()
    );
    assert_eq!(
        seen.order,
        [
            "leaf zip:m0.txt",
            "leaf zip:m1.txt",
            "problem zip:m1.txt",
            "leaf zip:m2.txt"
        ]
    );
}

#[test]
fn a_stored_member_that_does_not_match_its_crc_is_reported() {
    let dir = workdir();
    let text = config_text("crc", &fake_key(150));
    write_file(dir.path(), "a.txt", &text);
    sh(dir.path(), "zip -q -0 a.zip a.txt");
    let mut bytes = std::fs::read(dir.path().join("a.zip")).unwrap();
    let data = local_data(&bytes, "a.txt");
    bytes[data.start] ^= 0x20;
    let path = write_file(dir.path(), "bad.zip", &bytes);
    let (seen, _) = unpack_path(&path, &Limits::default());
    assert_eq!(seen.leaf(&["zip:a.txt"]).content[1..], text.as_bytes()[1..]);
    assert!(
        seen.problem_lines()[0].contains("CRC-32"),
        "{:?}",
        seen.problem_lines()
    );
}

#[test]
fn unsupported_and_encrypted_members_are_reported_and_the_rest_read() {
    let dir = workdir();
    let plain = config_text("plain", &fake_key(160));
    write_file(dir.path(), "plain.txt", &plain);
    // Compressible, or zip stores it whatever the method asked.
    write_file(
        dir.path(),
        "bz.txt",
        config_text("bz", &fake_key(161)).repeat(50),
    );
    write_file(
        dir.path(),
        "locked.txt",
        config_text("locked", &fake_key(162)),
    );
    sh(
        dir.path(),
        "zip -q -Z bzip2 mixed.zip bz.txt && zip -q -P hunter2 mixed.zip locked.txt \
         && zip -q mixed.zip plain.txt",
    );
    let (seen, _) = unpack_path(&dir.path().join("mixed.zip"), &Limits::default());
    assert_eq!(seen.chains(), ["zip:plain.txt"]);
    assert_eq!(seen.text(&["zip:plain.txt"]), plain);
    assert_eq!(
        seen.problems,
        [
            (
                vec!["zip:bz.txt".to_string()],
                Problem::UnsupportedMethod {
                    method: 12,
                    name: "Bzip2"
                }
            ),
            (vec!["zip:locked.txt".to_string()], Problem::Encrypted),
        ]
    );
}

#[test]
fn a_truncated_zip_is_scanned_as_it_is() {
    let dir = workdir();
    write_file(dir.path(), "a.txt", config_text("a", &fake_key(170)));
    write_file(dir.path(), "b.bin", Rng::new(171).bytes(50_000));
    sh(
        dir.path(),
        "zip -q -0 a.zip a.txt b.bin && head -c 30000 a.zip > cut.zip",
    );
    let path = dir.path().join("cut.zip");
    let (seen, _) = unpack_path(&path, &Limits::default());
    assert_eq!(seen.leaves.len(), 1);
    let leaf = &seen.leaves[0];
    assert!(leaf.chain.is_empty());
    assert_eq!(leaf.origin, Some(0));
    assert_eq!(leaf.content, std::fs::read(&path).unwrap());
    assert!(
        matches!(&seen.problems[..], [(chain, Problem::Corrupt { kind: Kind::Zip, .. })] if chain == &["zip"]),
        "{:?}",
        seen.problem_lines()
    );
}

#[test]
fn a_zip_declaring_too_many_members_is_not_opened() {
    let dir = workdir();
    write_members(dir.path(), 12);
    sh(dir.path(), "cd m && zip -q ../many.zip *.txt");
    let limits = Limits {
        max_entries: 5,
        ..Limits::default()
    };
    let (seen, _) = unpack_path(&dir.path().join("many.zip"), &limits);
    assert_eq!(seen.leaves.len(), 1, "visited as raw bytes");
    assert!(seen.leaves[0].chain.is_empty());
    assert_eq!(
        seen.problems,
        [(
            vec!["zip".to_string()],
            Problem::TooManyEntries {
                kind: Kind::Zip,
                max_entries: 5,
                visited: 0
            }
        )]
    );
}

#[test]
fn zip64_archives() {
    let dir = workdir();
    let text = config_text("zip64", &fake_key(180));
    write_file(dir.path(), "a.txt", &text);
    // -fz forces zip64 records; from a pipe the sizes also go in a data descriptor.
    sh(
        dir.path(),
        "zip -q -fz z64.zip a.txt && cat a.txt | zip -q -fz piped.zip -",
    );
    let (seen, _) = unpack_path(&dir.path().join("z64.zip"), &Limits::default());
    assert!(seen.problems.is_empty(), "{:?}", seen.problem_lines());
    assert_eq!(seen.text(&["zip:a.txt"]), text);
    let (seen, _) = unpack_path(&dir.path().join("piped.zip"), &Limits::default());
    assert!(seen.problems.is_empty(), "{:?}", seen.problem_lines());
    assert_eq!(seen.text(&["zip:-"]), text);
}

/// Where the data of member `name` lies in `zip`, from its local header.
fn local_data(zip: &[u8], name: &str) -> std::ops::Range<usize> {
    let u16_at = |at: usize| u16::from_le_bytes([zip[at], zip[at + 1]]) as usize;
    let u32_at =
        |at: usize| u32::from_le_bytes([zip[at], zip[at + 1], zip[at + 2], zip[at + 3]]) as usize;
    let mut at = 0;
    while zip[at..].starts_with(b"PK\x03\x04") {
        let (size, name_len, extra_len) = (u32_at(at + 18), u16_at(at + 26), u16_at(at + 28));
        let start = at + 30 + name_len + extra_len;
        if &zip[at + 30..at + 30 + name_len] == name.as_bytes() {
            return start..start + size;
        }
        at = start + size;
    }
    panic!("no member {name}");
}
