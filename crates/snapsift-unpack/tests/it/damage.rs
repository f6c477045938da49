//! Damaged inputs never panic nor fail: archives and streams from the real tools, with bytes
//! flipped, runs zeroed and ends cut at deterministic pseudo-random places, all unpack to
//! `Ok` (what is wrong is a problem, not an error). Debug builds check arithmetic, so an
//! overflow on hostile sizes would panic here.

use std::io::Cursor;

use snapsift_testkit::{Rng, sh, workdir, write_file};
use snapsift_unpack::{Limits, unpack};

use crate::common::{Collect, config_text, fake_key};

#[test]
fn damaged_archives_and_streams_unpack_without_panic_or_error() {
    let dir = workdir();
    for i in 0..4 {
        write_file(
            dir.path(),
            &format!("t/f{i}.txt"),
            config_text(&format!("f{i}"), &fake_key(500 + i)).repeat(5),
        );
    }
    write_file(dir.path(), "t/noise.bin", Rng::new(510).bytes(3000));
    sh(
        dir.path(),
        "cd t && zip -q ../deflated.zip * && zip -q -0 ../stored.zip * && zip -q -0 ../nested.zip ../deflated.zip \
         && tar --format=gnu -cf ../gnu.tar * && tar --format=pax -cf ../pax.tar * \
         && gzip -c ../gnu.tar > ../tar.gz && zstd -q -c ../pax.tar > ../tar.zst \
         && xz -c ../gnu.tar > ../tar.xz && bzip2 -c ../gnu.tar > ../tar.bz2 \
         && gzip -c ../deflated.zip > ../zip.gz && iconv -f UTF-8 -t UTF-16 f0.txt > ../utf16.txt",
    );
    let limits = Limits {
        // Small, so that a damaged size field cannot make one case slow.
        max_expanded: 4 << 20,
        ..Limits::default()
    };
    let mut rng = Rng::new(0x5eed_1234_abcd_ef01);
    for name in [
        "deflated.zip",
        "stored.zip",
        "nested.zip",
        "gnu.tar",
        "pax.tar",
        "tar.gz",
        "tar.zst",
        "tar.xz",
        "tar.bz2",
        "zip.gz",
        "utf16.txt",
    ] {
        let original = std::fs::read(dir.path().join(name)).unwrap();
        for case in 0..400 {
            let mut bytes = original.clone();
            let at = (rng.next() % bytes.len() as u64) as usize;
            match case % 3 {
                0 => bytes[at] ^= 1 << (rng.next() % 8),
                1 => {
                    let end = (at + 1 + (rng.next() % 64) as usize).min(bytes.len());
                    bytes[at..end].fill(0);
                }
                _ => bytes.truncate(at),
            }
            let len = bytes.len() as u64;
            let mut visitor = Collect {
                keep: 0,
                ..Collect::default()
            };
            if let Err(error) = unpack(Cursor::new(bytes), len, &limits, &mut visitor) {
                panic!("{name}, case {case}: {error}");
            }
        }
    }
}
