//! What is recognised and what is not: UTF-16 text written by iconv, in both byte orders
//! with and without a byte-order mark; and ordinary files (an ELF binary, random bytes, UTF-8
//! text, zeros) that must stay plain leaves.

use snapsift_testkit::{Rng, sh, workdir, write_file};
use snapsift_unpack::{Kind, LeafEncoding, Limits, SNIFF_LEN, sniff};

use crate::common::{config_text, fake_key, unpack_path};

#[test]
fn utf16_text_from_iconv_is_transcoded() {
    let dir = workdir();
    let text = format!(
        "{}clé=valeur, 密码, emoji 🔑\r\n",
        config_text("utf16", &fake_key(300))
    );
    write_file(dir.path(), "text.txt", &text);
    // iconv's UTF-16 writes a mark in the machine's order (little-endian here); a big-endian
    // mark is written by hand in front of UTF-16BE.
    sh(
        dir.path(),
        "iconv -f UTF-8 -t UTF-16LE text.txt > le.txt && iconv -f UTF-8 -t UTF-16BE text.txt > be.txt \
         && iconv -f UTF-8 -t UTF-16 text.txt > le-bom.txt \
         && { printf '\\376\\377'; cat be.txt; } > be-bom.txt",
    );
    for (name, kind, encoding) in [
        ("le.txt", Kind::Utf16Le, LeafEncoding::Utf16Le),
        ("be.txt", Kind::Utf16Be, LeafEncoding::Utf16Be),
        ("le-bom.txt", Kind::Utf16Le, LeafEncoding::Utf16Le),
        ("be-bom.txt", Kind::Utf16Be, LeafEncoding::Utf16Be),
    ] {
        let path = dir.path().join(name);
        let head = std::fs::read(&path).unwrap();
        assert_eq!(
            sniff(&head[..head.len().min(SNIFF_LEN)]),
            Some(kind),
            "{name}"
        );
        let (seen, _) = unpack_path(&path, &Limits::default());
        let leaf = seen.leaf(&[kind.as_str()]);
        assert_eq!(
            String::from_utf8(leaf.content.clone()).unwrap(),
            text,
            "{name}"
        );
        assert_eq!(
            (leaf.encoding, leaf.origin, leaf.len),
            (encoding, None, None)
        );
        assert!(seen.problems.is_empty());
    }
}

#[test]
fn ordinary_files_are_not_taken_for_containers() {
    let dir = workdir();
    let elf = std::fs::read("/bin/ls").unwrap();
    let random = Rng::new(301).bytes(1 << 20);
    let utf8 = "Ünïcödé UTF-8 text with a key LTAIxxxx and accents: déjà vu, 密码\n".repeat(200);
    let zeros = vec![0u8; 1 << 20];
    for (name, bytes) in [
        ("elf", elf),
        ("random", random),
        ("utf8", utf8.into_bytes()),
        ("zeros", zeros),
    ] {
        // Every window a caller might sniff, not only the file's start.
        for start in [0, 1, 4096, 100_000] {
            let head = &bytes[start.min(bytes.len())..];
            assert_eq!(
                sniff(&head[..head.len().min(SNIFF_LEN)]),
                None,
                "{name} at {start}"
            );
        }
        let path = write_file(dir.path(), name, &bytes);
        let (seen, summary) = unpack_path(&path, &Limits::default());
        assert_eq!(seen.leaves.len(), 1, "{name}");
        let leaf = &seen.leaves[0];
        assert!(leaf.chain.is_empty(), "{name}");
        assert_eq!(
            (leaf.origin, leaf.encoding),
            (Some(0), LeafEncoding::Bytes),
            "{name}"
        );
        assert_eq!(leaf.content, bytes, "{name}");
        assert_eq!(summary.problems, 0);
    }
}
