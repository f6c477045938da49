//! The audit's registry hive reader: the input as a hive file, every key and value read (to
//! a bounded depth and count), each value's data and string, and the `SAM` accounts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_audit::hive::Hive;
use snapsift_audit::windows::sam_accounts;

fuzz_target!(|data: &[u8]| {
    let Ok(hive) = Hive::parse(data) else {
        return;
    };
    let _ = sam_accounts(&hive, 64);
    let Ok(root) = hive.root_key() else {
        return;
    };
    let _ = root.descend("Software\\SimonTatham\\PuTTY\\Sessions");
    let mut stack = vec![(root, 0u32)];
    let mut visited = 0u32;
    while let Some((key, depth)) = stack.pop() {
        visited += 1;
        if visited > 4096 {
            break;
        }
        let _ = key.name();
        if let Ok(values) = key.values() {
            for value in values.iter().take(64) {
                let _ = value.data();
                let _ = value.string();
            }
        }
        if depth < 16
            && let Ok(subkeys) = key.subkeys()
        {
            stack.extend(subkeys.into_iter().take(64).map(|k| (k, depth + 1)));
        }
    }
});
