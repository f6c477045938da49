//! The audit's parsers of files from an image: `passwd`, `shadow`, `authorized_keys`,
//! `sshd_config` (and `AuthorizedKeysFile` expansion), Sysprep's `State.ini`, unattend answer
//! files, Recycle Bin `$I` files, `/etc/fstab`, and path patterns from a check file (the first line a
//! pattern, the others paths, also folded as on a case-insensitive filesystem).
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_audit::accounts::{parse_passwd, parse_shadow};
use snapsift_audit::glob::{Homes, PathSet, Pattern, fold};
use snapsift_audit::mounts::parse_fstab;
use snapsift_audit::ssh::{expand_keys_file, parse_authorized_keys, parse_sshd_config};
use snapsift_audit::windows::{image_state, recycled, text_of, unattend_passwords};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = image_state(&text_of(data));
    let _ = unattend_passwords(&text_of(data));
    let _ = recycled(data);
    let _ = parse_fstab(&text);
    let accounts: Vec<_> = parse_passwd(&text).take(1000).collect();
    for _ in parse_shadow(&text) {}
    let _ = parse_authorized_keys(data);
    let config = parse_sshd_config(data);
    for value in config.authorized_keys_files.iter().take(16) {
        for account in accounts.iter().take(16) {
            let _ = expand_keys_file(value, &account.name, &account.uid, &account.home);
        }
    }
    // The first line as a pattern, the others as paths.
    let mut lines = text.lines();
    if let Some(Ok(pattern)) = lines.next().map(Pattern::parse) {
        let set = PathSet::new(&[pattern]);
        let homes = Homes::new(accounts.iter().map(|a| a.home.as_str()));
        for path in lines.take(64) {
            let _ = set.matches(path, &homes);
            let _ = set.matches(&fold(path), &homes.clone().folded());
        }
    }
});
