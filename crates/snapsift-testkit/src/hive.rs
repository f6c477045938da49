//! Windows registry hives made by `hivexregedit --merge` (libwin-hivex-perl, over libhivex)
//! from `.reg` text a test writes.
//!
//! hivex edits hives but does not create one: [`reg_hive`] starts from the smallest hive it
//! opens (a base block, one bin holding a security cell and an empty root key), then merges
//! the text into it. Everything past that seed is hivex's own writing.

use std::fs;
use std::path::Path;

use crate::run;

/// The smallest hive hivex opens: a base block and one 4 KiB bin with a security cell (`sk`,
/// which hivex copies to the keys it adds) and an empty root key named `ROOT`.
fn empty_hive() -> Vec<u8> {
    fn cell(bins: &mut Vec<u8>, content: &[u8]) -> u32 {
        let offset = bins.len() as u32;
        let size = (content.len() + 4).next_multiple_of(8);
        bins.extend_from_slice(&(-(size as i32)).to_le_bytes());
        bins.extend_from_slice(content);
        bins.resize(offset as usize + size, 0);
        offset
    }
    let mut bins = b"hbin".to_vec();
    bins.resize(32, 0);
    // A self-relative security descriptor with nothing in it.
    let mut descriptor = vec![1u8, 0];
    descriptor.extend_from_slice(&0x8004u16.to_le_bytes());
    descriptor.resize(20, 0);
    let sk_at = bins.len() as u32;
    let mut sk = b"sk\0\0".to_vec();
    for field in [sk_at, sk_at, 1, descriptor.len() as u32] {
        sk.extend_from_slice(&field.to_le_bytes());
    }
    sk.extend_from_slice(&descriptor);
    cell(&mut bins, &sk);
    let mut nk = vec![0u8; 76];
    nk[..2].copy_from_slice(b"nk");
    // KEY_HIVE_ENTRY | KEY_NO_DELETE | KEY_COMP_NAME.
    nk[2..4].copy_from_slice(&0x2cu16.to_le_bytes());
    for at in [16, 28, 32, 40, 48] {
        nk[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    }
    nk[44..48].copy_from_slice(&sk_at.to_le_bytes());
    nk[72..74].copy_from_slice(&4u16.to_le_bytes());
    nk.extend_from_slice(b"ROOT");
    let root = cell(&mut bins, &nk);
    // The rest of the bin: one free cell.
    let free = 4096 - bins.len();
    bins.extend_from_slice(&(free as i32).to_le_bytes());
    bins.resize(4096, 0);
    bins[8..12].copy_from_slice(&4096u32.to_le_bytes());
    let mut base = vec![0u8; 4096];
    base[..4].copy_from_slice(b"regf");
    // Sequence numbers 1 and 1, version 1.3, primary file, format 1.
    for (at, value) in [(4, 1u32), (8, 1), (20, 1), (24, 3), (32, 1), (44, 1)] {
        base[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }
    base[36..40].copy_from_slice(&root.to_le_bytes());
    base[40..44].copy_from_slice(&4096u32.to_le_bytes());
    let checksum = (0..508).step_by(4).fold(0u32, |sum, at| {
        sum ^ u32::from_le_bytes(base[at..at + 4].try_into().unwrap())
    });
    base[508..512].copy_from_slice(&checksum.to_le_bytes());
    base.extend_from_slice(&bins);
    base
}

/// Writes at `path` a hive holding what `reg` says (regedit's text form, keys written from
/// the root as `[\Software\...]`, each key's parents given before it, a blank line between
/// keys), merged by `hivexregedit --merge`.
pub fn reg_hive(path: &Path, reg: &str) {
    fs::write(path, empty_hive()).unwrap();
    let text = path.with_extension("reg");
    fs::write(&text, reg).unwrap();
    run(
        "hivexregedit",
        &["--merge", path.to_str().unwrap(), text.to_str().unwrap()],
    );
    fs::remove_file(text).unwrap();
}
