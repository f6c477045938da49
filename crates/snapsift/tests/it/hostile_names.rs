//! File names and file contents are written by whoever wrote the image. Names holding ESC
//! (a terminal command: retitle the window), CR and LF (a forged line of the report), DEL, a
//! C1 control and a bidi override, and a context holding controls and a bidi override: the
//! text report writes each escaped on its one line, and no format (nor a note on standard
//! error) lets a raw control character through; JSON reads back the names exactly.

use serde_json::Value;

use snapsift_testkit::{Secrets, mkfs_ext4, workdir};

use crate::common::*;

/// Whether `c` may act on a terminal or reorder text: a control character (but the line
/// breaks between lines of the output), a line separator, a bidi control.
fn acts_on_a_terminal(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// The names, each with what the text report writes for it.
const NAMES: [(&str, &str); 6] = [
    ("esc\x1b]0;pwned\x07.env", "esc\\u{1b}]0;pwned\\u{7}.env"),
    ("cr\rforged.env", "cr\\rforged.env"),
    (
        "lf\n    /etc/shadow  (allocated, inode 1).env",
        "lf\\n    /etc/shadow  (allocated, inode 1).env",
    ),
    ("bidi\u{202e}vne.txt", "bidi\\u{202e}vne.txt"),
    ("del\x7f-c1\u{9b}31m.env", "del\\u{7f}-c1\\u{9b}31m.env"),
    ("forged\\u{1b}.env", "forged\\\\u{1b}.env"),
];

#[test]
fn names_and_contexts_reach_no_output_raw() {
    let dir = workdir();
    let mut s = Secrets::new(1803);
    let tree = path_in(&dir, "tree");
    let keys: Vec<String> = NAMES.iter().map(|_| s.aws_key_id()).collect();
    let files: Vec<(String, String)> = NAMES
        .iter()
        .zip(&keys)
        .map(|((name, _), key)| {
            (
                format!("srv/{name}"),
                format!("key\x1b[2J = {key} \u{202e}\u{9b}2J\r\n"),
            )
        })
        .collect();
    let files: Vec<(&str, String)> = files.iter().map(|(p, c)| (p.as_str(), c.clone())).collect();
    write_tree(&tree, &files);
    // A gzip file cut short: the file pass notes it on standard error, by name.
    let gzip_cut_short = [
        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
    ];
    std::fs::write(tree.join("srv/cut\x1b]0;pwned\x07.gz"), gzip_cut_short).unwrap();
    let image = path_in(&dir, "fs.ext4");
    mkfs_ext4(&image, &tree, 8);

    for format in ["text", "jsonl", "json", "sarif"] {
        for extra in [&[][..], &["--redact"][..]] {
            let output = snapsift()
                .args(["scan", "--format", format])
                .args(extra)
                .arg(&image)
                .output()
                .unwrap();
            assert_eq!(output.status.code(), Some(1));
            let stdout = String::from_utf8(output.stdout).expect("UTF-8");
            let stderr = String::from_utf8_lossy(&output.stderr);
            for (what, text) in [("stdout", &*stdout), ("stderr", &*stderr)] {
                let raw: Vec<char> = text.chars().filter(|&c| acts_on_a_terminal(c)).collect();
                assert!(
                    raw.is_empty(),
                    "{format} {extra:?} {what}: {raw:?} in\n{text}"
                );
            }
            assert!(
                stderr.contains("note: /srv/cut\\u{1b}]0;pwned\\u{7}.gz: corrupt gzip data"),
                "{stderr}"
            );
            match format {
                "text" => {
                    for (_, escaped) in NAMES {
                        let line = format!("    /srv/{escaped}  (allocated, inode ");
                        assert_eq!(stdout.matches(&line).count(), 1, "{line}\n{stdout}");
                    }
                    assert!(
                        !stdout.lines().any(|l| l.starts_with("    /etc/shadow")),
                        "a forged line:\n{stdout}"
                    );
                    assert_eq!(
                        stdout.matches("key.[2J = AKIA").count(),
                        NAMES.len(),
                        "{stdout}"
                    );
                    assert!(
                        stdout.contains(" \\u{202e}.2J.\n"),
                        "the context's bidi override, escaped: {stdout}"
                    );
                }
                "jsonl" => {
                    // The names as they are, once read back.
                    let mut paths: Vec<String> = stdout
                        .lines()
                        .map(|l| serde_json::from_str::<Value>(l).unwrap())
                        .filter_map(|v| v["location"]["path"].as_str().map(str::to_owned))
                        .collect();
                    paths.sort();
                    let mut expected: Vec<String> =
                        NAMES.iter().map(|(n, _)| format!("/srv/{n}")).collect();
                    expected.sort();
                    assert_eq!(paths, expected);
                }
                _ => {
                    let document: Value = serde_json::from_str(&stdout).unwrap();
                    assert!(document.is_object());
                }
            }
        }
    }
}
