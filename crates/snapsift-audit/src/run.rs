//! Running the checks over the filesystems of one image.
//!
//! Per filesystem: the accounts (`/etc/passwd`) and sshd configuration are read first, for
//! the home directories `~/` patterns expand to and the files `AuthorizedKeysFile` names;
//! then one pass over the file list hands each file to the checks whose patterns match it;
//! then each check reads and judges its files ([`crate::check::Kind`]). Every read is bounded
//! ([`CONFIG_LIMIT`], [`SNIFF_LIMIT`]); a file the bound cuts is said so in the evidence,
//! and the item is at least a warning, since its end was not checked.

use std::collections::HashMap;

use snapsift_engine::mapped::{FileState, ListedFile};
use snapsift_match::checks::{
    Check as MatchCheck, Evidence as MatchEvidence, MAX_EVIDENCE, Verdict,
};

use crate::accounts::{Account, Password, parse_passwd, parse_shadow};
use crate::check::{Check, CheckSet, Kind, Sniff, Status};
use crate::glob::{Homes, PathSet, Pattern, fold};
use crate::mounts::{self, Mounted};
use crate::report::{Evidence, Item};
use crate::ssh::{expand_keys_file, parse_authorized_keys, parse_key_line, parse_sshd_config};
use crate::tree::FileTree;

/// The most bytes read of an account, configuration or key file: a million `shadow`
/// lines fit; a larger file is read this far, and the evidence says so.
pub const CONFIG_LIMIT: u64 = 64 * 1024 * 1024;
/// The bytes read of a file only to tell what it is (a private key, a core dump).
pub const SNIFF_LIMIT: u64 = 64 * 1024;
/// The most files one check keeps to read: the others are counted.
pub const MAX_MATCHED: usize = 10_000;
/// The bytes read of a deleted file to tell whether its contents are still there.
const DELETED_SAMPLE: u64 = 4096;
/// The largest files a summary lists.
const LARGEST: usize = 5;
/// The most accounts whose homes are checked: a `passwd` file may list millions.
pub const MAX_ACCOUNTS: usize = 100_000;
/// The most sshd configuration files read (with their `Include`s).
const MAX_CONFIG_FILES: usize = 64;

mod free_space;
mod windows;

/// How the report shows what the checks find.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Put the secrets a check reads (an unattend file's passwords) in its evidence.
    pub show_secrets: bool,
    /// Mask them as `--redact` does.
    pub redact: bool,
}

/// Runs every check but the secret scan's over `trees` (the filesystems of one image): one
/// item per check, in order. The `secrets` check's item is left passing with no evidence,
/// for the caller to fill ([`crate::secrets`]).
///
/// A filesystem the root one's `/etc/fstab` mounts (`/home` on its own volume) is checked
/// where it is mounted, with the root's accounts and sshd configuration (see
/// [`crate::mounts`]).
pub fn audit(trees: &[&dyn FileTree], checks: &CheckSet, options: &Options) -> Vec<Item> {
    let mut items: Vec<Item> = checks.checks.iter().map(Item::new).collect();
    let (mount_points, root) = mounts::mount_points(trees);
    for (tree, mount_point) in trees.iter().zip(&mount_points) {
        match (mount_point, root.and_then(|r| trees.get(r))) {
            (Some(mount_point), Some(root)) => {
                let mounted = Mounted {
                    tree: *tree,
                    mount_point,
                };
                audit_tree(&mounted, Some(*root), checks, options, &mut items);
            }
            _ => audit_tree(*tree, None, checks, options, &mut items),
        }
    }
    items
}

/// What one check collected from the file list.
#[derive(Default)]
struct Matched {
    /// The files to read (at most [`MAX_MATCHED`]).
    files: Vec<ListedFile>,
    /// All files matched, and their bytes.
    count: u64,
    bytes: u64,
    /// The largest files matched, largest first.
    largest: Vec<ListedFile>,
}

impl Matched {
    fn add(&mut self, file: &ListedFile) {
        self.count = self.count.saturating_add(1);
        self.bytes = self.bytes.saturating_add(file.size);
        if self.files.len() < MAX_MATCHED {
            self.files.push(file.clone());
        }
        let at = self.largest.partition_point(|f| f.size >= file.size);
        if at < LARGEST {
            self.largest.insert(at, file.clone());
            self.largest.truncate(LARGEST);
        }
    }
}

/// The paths of one check on one filesystem: what it reads, less what it leaves out.
struct Compiled {
    paths: PathSet,
    exclude: PathSet,
}

impl Compiled {
    /// `check`'s paths, folded for a case-insensitive filesystem.
    fn new(check: &Check, folded: bool) -> Compiled {
        Compiled {
            paths: path_set(&check.paths, folded),
            exclude: path_set(&check.exclude, folded),
        }
    }

    fn matches(&self, path: &str, homes: &Homes) -> bool {
        self.paths.matches(path, homes) && !self.exclude.matches(path, homes)
    }
}

/// The set of `patterns` (validated when the checks were loaded), folded for a
/// case-insensitive filesystem.
fn path_set(patterns: &[String], folded: bool) -> PathSet {
    let parsed: Vec<Pattern> = patterns
        .iter()
        .filter_map(|p| {
            if folded {
                Pattern::parse(&fold(p)).ok()
            } else {
                Pattern::parse(p).ok()
            }
        })
        .collect();
    PathSet::new(&parsed)
}

/// `path` as the patterns of `tree` match it: folded if its names are case-insensitive.
fn matched_form(path: &str, folded: bool) -> std::borrow::Cow<'_, str> {
    if folded {
        std::borrow::Cow::Owned(fold(path))
    } else {
        std::borrow::Cow::Borrowed(path)
    }
}

/// The evidence of `file` on `tree`, saying `detail`.
fn at(tree: &dyn FileTree, file: &ListedFile, detail: String) -> Evidence {
    Evidence {
        volume: Some(tree.label().to_owned()),
        path: file.path.clone(),
        offset: tree.disk_offset(file.index),
        detail,
        ..Evidence::default()
    }
}

/// Reads up to `limit` bytes of `file`; a read error or a cut becomes evidence on `item`
/// (a warning: that part was not checked).
fn read(tree: &dyn FileTree, file: &ListedFile, limit: u64, item: &mut Item) -> Option<Vec<u8>> {
    match tree.read(file.index, limit) {
        Ok(read) => {
            if read.cut() {
                item.add(
                    Status::Warn,
                    at(
                        tree,
                        file,
                        format!(
                            "only its first {} of {} bytes were read; the rest was not checked",
                            read.bytes.len(),
                            read.size
                        ),
                    ),
                );
            }
            Some(read.bytes)
        }
        Err(error) => {
            item.add(
                Status::Warn,
                at(tree, file, format!("cannot be read: {}", why(&error))),
            );
            None
        }
    }
}

/// Why `error` happened: its sources, innermost last (its own message names the file, which
/// the evidence names already).
fn why(error: &dyn std::error::Error) -> String {
    let mut reasons = Vec::new();
    let mut source = error.source();
    while let Some(inner) = source {
        reasons.push(inner.to_string());
        source = inner.source();
    }
    if reasons.is_empty() {
        error.to_string()
    } else {
        reasons.join(": ")
    }
}

/// Runs the checks over one filesystem, adding to `items`; the accounts and sshd
/// configuration are read from `root` if given (the filesystem `tree` is mounted in), else
/// from `tree`.
fn audit_tree(
    tree: &dyn FileTree,
    root: Option<&dyn FileTree>,
    checks: &CheckSet,
    options: &Options,
    items: &mut [Item],
) {
    let folded = tree.case_insensitive();
    let context = root.unwrap_or(tree);
    // First pass: the files the others depend on.
    let mut passwd_set = PathSet::default();
    passwd_set.add_exact("/etc/passwd");
    let no_homes = Homes::default();
    let config_sets: Vec<(usize, PathSet)> = checks
        .checks
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind == Kind::AuthorizedKeys)
        .map(|(i, c)| (i, path_set(&c.config, folded)))
        .collect();
    let mut passwd: Option<ListedFile> = None;
    let mut configs: Vec<(usize, ListedFile)> = Vec::new();
    context.each_file(&mut |file| {
        let Some(path) = file.path.as_deref() else {
            return;
        };
        if file.state != FileState::Allocated {
            return;
        }
        let path = matched_form(path, folded);
        let path = path.as_ref();
        if passwd_set.matches(path, &no_homes) {
            passwd = Some(file.clone());
        }
        for (check, set) in &config_sets {
            if configs.len() < MAX_CONFIG_FILES && set.matches(path, &no_homes) {
                configs.push((*check, file.clone()));
            }
        }
    });
    let mut accounts: Vec<Account> = Vec::new();
    let mut more_accounts = 0u64;
    if let Some(read) = passwd.and_then(|f| context.read(f.index, CONFIG_LIMIT).ok()) {
        for account in parse_passwd(&String::from_utf8_lossy(&read.bytes)) {
            if accounts.len() < MAX_ACCOUNTS {
                accounts.push(account);
            } else {
                more_accounts = more_accounts.saturating_add(1);
            }
        }
    }
    let mut homes = Homes::new(accounts.iter().map(|a| a.home.as_str()));
    if folded {
        homes = homes.folded();
    }
    let mut compiled: Vec<Compiled> = checks
        .checks
        .iter()
        .map(|c| Compiled::new(c, folded))
        .collect();
    // `AuthorizedKeysFile` paths, for every account.
    for (check, file) in &configs {
        let Ok(read) = context.read(file.index, CONFIG_LIMIT) else {
            continue;
        };
        let Some(compiled) = compiled.get_mut(*check) else {
            continue;
        };
        for value in parse_sshd_config(&read.bytes).authorized_keys_files {
            for account in &accounts {
                if let Some(path) =
                    expand_keys_file(&value, &account.name, &account.uid, &account.home)
                {
                    compiled.paths.add_exact(&matched_form(&path, folded));
                }
            }
        }
    }
    // Second pass: every file to the checks that match it (and to those that run only on a
    // filesystem holding one of some files, and to those that list logs).
    let mut matched: Vec<Matched> = checks.checks.iter().map(|_| Matched::default()).collect();
    let applies_sets: Vec<PathSet> = checks
        .checks
        .iter()
        .map(|c| path_set(&c.applies_to, folded))
        .collect();
    let mut applies: Vec<bool> = checks
        .checks
        .iter()
        .map(|c| c.applies_to.is_empty())
        .collect();
    let log_sets: Vec<PathSet> = checks
        .checks
        .iter()
        .map(|c| path_set(&c.logs, folded))
        .collect();
    let mut logs: Vec<Matched> = checks.checks.iter().map(|_| Matched::default()).collect();
    let mut deleted = Matched::default();
    let wants_deleted = checks.checks.iter().any(|c| c.kind == Kind::Deleted);
    tree.each_file(&mut |file| {
        if file.state == FileState::Deleted {
            if wants_deleted {
                deleted.add(&file);
            }
            return;
        }
        let Some(path) = file.path.as_deref() else {
            return;
        };
        let path = matched_form(path, folded);
        let path = path.as_ref();
        for (i, (check, compiled)) in checks.checks.iter().zip(&compiled).enumerate() {
            if !applies[i] && applies_sets[i].matches(path, &no_homes) {
                applies[i] = true;
            }
            if !check.logs.is_empty() && log_sets[i].matches(path, &homes) {
                logs[i].add(&file);
            }
            if check.non_empty && file.size == 0 {
                continue;
            }
            if compiled.matches(path, &homes) {
                matched[i].add(&file);
            }
        }
    });
    for (i, ((check, found), item)) in checks
        .checks
        .iter()
        .zip(&matched)
        .zip(items.iter_mut())
        .enumerate()
    {
        if !applies[i] {
            continue;
        }
        let reads_homes =
            check.kind == Kind::AuthorizedKeys || check.paths.iter().any(|p| p.starts_with("~/"));
        if more_accounts > 0 && reads_homes {
            item.add(
                Status::Warn,
                Evidence {
                    volume: Some(tree.label().to_owned()),
                    path: Some("/etc/passwd".to_owned()),
                    detail: format!(
                        "{more_accounts} accounts past the first {MAX_ACCOUNTS}: their homes \
                         (outside /root and /home) were not checked"
                    ),
                    count: Some(more_accounts),
                    ..Evidence::default()
                },
            );
        }
        if found.count > found.files.len() as u64 && check.kind != Kind::Summary {
            item.add(
                Status::Warn,
                Evidence {
                    volume: Some(tree.label().to_owned()),
                    detail: format!(
                        "{} files matched; only the first {MAX_MATCHED} were read",
                        found.count
                    ),
                    count: Some(found.count),
                    ..Evidence::default()
                },
            );
        }
        match check.kind {
            Kind::Files => files(tree, check, found, &accounts, item),
            Kind::Summary => summary(tree, check, found, item),
            Kind::Shadow => shadow(tree, check, found, item),
            Kind::RootAccounts => root_accounts(tree, check, found, item),
            Kind::LoginShells => login_shells(tree, check, found, item),
            Kind::AuthorizedKeys => authorized_keys(tree, check, found, &accounts, item),
            Kind::PrivateKeys => private_keys(tree, check, found, &accounts, item),
            Kind::Deleted => deleted_files(tree, check, &deleted, item),
            Kind::FreeSpace => free_space::free_space(tree, check, item),
            Kind::ImageState => windows::image_state(tree, check, found, &logs[i], item),
            Kind::Unattend => windows::unattend(tree, check, found, options, item),
            Kind::Sam => windows::sam(tree, check, found, item),
            Kind::Registry => windows::registry(tree, check, found, &accounts, item),
            Kind::RecycleBin => windows::recycle_bin(tree, check, found, item),
            Kind::Secrets => {}
        }
    }
}

/// `files`: each file matched (holding what `sniff` says) is evidence, with the account
/// whose home holds it.
fn files(
    tree: &dyn FileTree,
    check: &Check,
    found: &Matched,
    accounts: &[Account],
    item: &mut Item,
) {
    for file in &found.files {
        if let Some(sniff) = check.sniff {
            let Some(bytes) = read(tree, file, SNIFF_LIMIT, item) else {
                continue;
            };
            let holds = match sniff {
                Sniff::ElfCore => is_elf_core(&bytes),
            };
            if !holds {
                continue;
            }
        }
        let mut evidence = at(tree, file, format!("{} bytes", file.size));
        evidence.bytes = Some(file.size);
        evidence.user = file.path.as_deref().and_then(|p| owner_of(p, accounts));
        item.add(check.status, evidence);
    }
}

/// Whether `bytes` begin an ELF core file (`e_type` 4, in either byte order).
fn is_elf_core(bytes: &[u8]) -> bool {
    let (Some(b"\x7fELF"), Some(&data), Some(&[lo, hi])) = (
        bytes.get(..4),
        bytes.get(5),
        bytes.get(16..18).and_then(|s| <&[u8; 2]>::try_from(s).ok()),
    ) else {
        return false;
    };
    let e_type = if data == 2 {
        u16::from_be_bytes([lo, hi])
    } else {
        u16::from_le_bytes([lo, hi])
    };
    e_type == 4
}

/// `summary`: the count and bytes of the files matched, and the largest.
fn summary(tree: &dyn FileTree, check: &Check, found: &Matched, item: &mut Item) {
    if found.count == 0 {
        return;
    }
    item.add(
        check.status,
        Evidence {
            volume: Some(tree.label().to_owned()),
            detail: format!("{} files, {} bytes", found.count, found.bytes),
            count: Some(found.count),
            bytes: Some(found.bytes),
            ..Evidence::default()
        },
    );
    for file in &found.largest {
        let mut evidence = at(
            tree,
            file,
            format!("{} bytes (among the largest)", file.size),
        );
        evidence.bytes = Some(file.size);
        item.add(check.status, evidence);
    }
}

/// `shadow`: usable hashes and empty passwords (the check's status), locked hashes (warn).
fn shadow(tree: &dyn FileTree, check: &Check, found: &Matched, item: &mut Item) {
    for file in &found.files {
        let Some(bytes) = read(tree, file, CONFIG_LIMIT, item) else {
            continue;
        };
        for entry in parse_shadow(&String::from_utf8_lossy(&bytes)) {
            let (status, detail) = match &entry.password {
                Password::Usable(scheme) => {
                    (check.status, format!("usable password hash ({scheme})"))
                }
                Password::Empty => (
                    check.status,
                    "empty password field: no password needed".to_owned(),
                ),
                Password::Locked => (
                    Status::Warn,
                    "locked, but its password hash is still there".to_owned(),
                ),
                Password::NoHash => continue,
            };
            let mut evidence = at(tree, file, detail);
            evidence.user = Some(entry.name);
            item.add(status, evidence);
        }
    }
}

/// Calls `visit` with each account of the `passwd` files matched (one at a time: a file
/// may list millions) and the item to add evidence to.
fn each_account(
    tree: &dyn FileTree,
    found: &Matched,
    item: &mut Item,
    mut visit: impl FnMut(&ListedFile, Account, &mut Item),
) {
    for file in &found.files {
        if let Some(bytes) = read(tree, file, CONFIG_LIMIT, item) {
            for account in parse_passwd(&String::from_utf8_lossy(&bytes)) {
                visit(file, account, item);
            }
        }
    }
}

/// `root-accounts`: UID 0 accounts not in `users`.
fn root_accounts(tree: &dyn FileTree, check: &Check, found: &Matched, item: &mut Item) {
    each_account(tree, found, item, |file, account, item| {
        let uid_zero = account.uid.trim().parse::<u64>() == Ok(0);
        if uid_zero && !check.users.contains(&account.name) {
            let mut evidence = at(tree, file, "UID 0".to_owned());
            evidence.user = Some(account.name);
            item.add(check.status, evidence);
        }
    });
}

/// `login-shells`: accounts not in `users` whose shell is not one of `shells`.
fn login_shells(tree: &dyn FileTree, check: &Check, found: &Matched, item: &mut Item) {
    each_account(tree, found, item, |file, account, item| {
        let shell = if account.shell.is_empty() {
            "/bin/sh"
        } else {
            account.shell.as_str()
        };
        if check.users.contains(&account.name) || check.shells.iter().any(|s| s == shell) {
            return;
        }
        let mut evidence = at(
            tree,
            file,
            format!("UID {}, home {}, shell {shell}", account.uid, account.home),
        );
        evidence.user = Some(account.name);
        item.add(check.status, evidence);
    });
}

/// `authorized-keys`: every key of every file matched.
fn authorized_keys(
    tree: &dyn FileTree,
    check: &Check,
    found: &Matched,
    accounts: &[Account],
    item: &mut Item,
) {
    for file in &found.files {
        let Some(bytes) = read(tree, file, CONFIG_LIMIT, item) else {
            continue;
        };
        let owner = file.path.as_deref().and_then(|p| owner_of(p, accounts));
        let (keys, unreadable) = parse_authorized_keys(&bytes);
        for key in keys {
            let detail = match &key.bits {
                Some(bits) => format!("{} key ({bits} bits) {}", key.key_type, key.fingerprint),
                None => format!("{} key {}", key.key_type, key.fingerprint),
            };
            let mut evidence = at(tree, file, detail);
            evidence.user = owner.clone();
            evidence.key_type = Some(key.key_type);
            evidence.fingerprint = Some(key.fingerprint);
            evidence.comment = Some(key.comment).filter(|c| !c.is_empty());
            evidence.options = Some(key.options).filter(|o| !o.is_empty());
            item.add(check.status, evidence);
        }
        if unreadable > 0 {
            let mut evidence = at(
                tree,
                file,
                format!("{unreadable} line(s) not read as keys (sshd may still read them)"),
            );
            evidence.user = owner.clone();
            evidence.count = Some(unreadable);
            item.add(Status::Warn, evidence);
        }
    }
}

/// The account whose home holds `path` (the longest home that does; `/` never counts).
fn owner_of(path: &str, accounts: &[Account]) -> Option<String> {
    let home_of = |home: &str| {
        let home = home.trim_end_matches('/');
        (!home.is_empty()
            && path.len() > home.len()
            && path.starts_with(home)
            && path.as_bytes().get(home.len()) == Some(&b'/'))
        .then_some(home.len())
    };
    let mut best: Option<(usize, &str)> = None;
    for account in accounts {
        if let Some(len) = home_of(&account.home)
            && best.is_none_or(|(b, _)| len > b)
        {
            best = Some((len, &account.name));
        }
    }
    match best {
        Some((_, name)) => Some(name.to_owned()),
        None if home_of("/root").is_some() => Some("root".to_owned()),
        None => windows_profile(path),
    }
}

/// The profile `path` is in: `NAME` of `/Users/NAME/...` (any case).
fn windows_profile(path: &str) -> Option<String> {
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let users = parts.next()?;
    let name = parts.next()?;
    parts.next()?;
    users.eq_ignore_ascii_case("users").then(|| name.to_owned())
}

/// `private-keys`: files holding a private key block, with the type the block says and the
/// fingerprint of the `.pub` file beside it, where one is matched too.
fn private_keys(
    tree: &dyn FileTree,
    check: &Check,
    found: &Matched,
    accounts: &[Account],
    item: &mut Item,
) {
    let pem = MatchCheck::parse("pem-key").ok();
    let publics: HashMap<&str, &ListedFile> = found
        .files
        .iter()
        .filter_map(|f| Some((f.path.as_deref()?.strip_suffix(".pub")?, f)))
        .collect();
    for file in &found.files {
        let Some(path) = file.path.as_deref() else {
            continue;
        };
        if path.ends_with(".pub") {
            continue;
        }
        let Some(bytes) = read(tree, file, SNIFF_LIMIT, item) else {
            continue;
        };
        let Some(block) = private_key_block(&bytes) else {
            continue;
        };
        let mut evidence = at(tree, file, String::new());
        let mut facts = Vec::new();
        if let Some(Verdict::Passed(found)) = pem.as_ref().map(|c| {
            c.run(&MatchEvidence {
                matched: block,
                secret: block,
                truncated: false,
            })
        }) {
            facts = found;
        }
        let fact = |name: &str| {
            facts
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.value.clone())
        };
        evidence.key_type = fact("key_type");
        if let Some(public) = publics.get(path)
            && let Ok(read) = tree.read(public.index, SNIFF_LIMIT)
            && let Some(key) = parse_key_line(String::from_utf8_lossy(&read.bytes).trim())
        {
            evidence.key_type.get_or_insert(key.key_type);
            evidence.fingerprint = Some(key.fingerprint);
            evidence.comment = Some(key.comment).filter(|c| !c.is_empty());
        }
        let encrypted = if fact("encrypted").as_deref() == Some("yes") {
            ", encrypted"
        } else {
            ""
        };
        evidence.detail = match (&evidence.key_type, &evidence.fingerprint) {
            (Some(t), Some(fp)) => format!("{t} private key{encrypted} {fp}"),
            (Some(t), None) => format!("{t} private key{encrypted}"),
            _ => format!("private key{encrypted}"),
        };
        evidence.user = owner_of(path, accounts);
        item.add(check.status, evidence);
    }
}

/// The first PEM private key block of `bytes`, `-----BEGIN` to its end line (or to the end
/// of what was read, cut), if there is one. Bounded by the secret scan's longest evidence.
fn private_key_block(bytes: &[u8]) -> Option<&[u8]> {
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let begin = find(bytes, b"-----BEGIN ")?;
    let rest = &bytes[begin..];
    let header_end = find(rest, b"-----\n").or_else(|| find(rest, b"-----\r"))?;
    let header = rest.get(..header_end)?;
    find(header, b"PRIVATE KEY")?;
    let end = find(rest, b"-----END ")
        .and_then(|e| {
            let tail = rest.get(e..)?;
            let close = find(tail.get(9..)?, b"-----")?;
            e.checked_add(9)?.checked_add(close)?.checked_add(5)
        })
        .unwrap_or(rest.len());
    rest.get(..end.min(MAX_EVIDENCE))
}

/// `deleted`: deleted files whose first bytes are still on the disk (not all zeros).
fn deleted_files(tree: &dyn FileTree, check: &Check, found: &Matched, item: &mut Item) {
    if found.count == 0 {
        return;
    }
    let mut recoverable = Vec::new();
    let mut zeroed = 0u64;
    let mut unread = 0u64;
    for file in &found.files {
        match tree.read(file.index, DELETED_SAMPLE) {
            Ok(read) if read.bytes.iter().all(|&b| b == 0) => zeroed = zeroed.saturating_add(1),
            Ok(_) => recoverable.push(file),
            Err(_) => unread = unread.saturating_add(1),
        }
    }
    let not_sampled = found.count.saturating_sub(found.files.len() as u64);
    let bytes: u64 = recoverable.iter().map(|f| f.size).sum();
    let count = recoverable.len() as u64;
    let status = if count > 0 || not_sampled > 0 {
        check.status
    } else {
        Status::Pass
    };
    let mut detail =
        format!("{count} deleted file(s) whose contents are still on the disk, {bytes} bytes");
    if zeroed > 0 {
        detail.push_str(&format!("; {zeroed} more whose first bytes read as zeros"));
    }
    let unread = unread.saturating_add(not_sampled);
    if unread > 0 {
        detail.push_str(&format!("; {} not read (assumed recoverable)", unread));
    }
    item.add(
        status,
        Evidence {
            volume: Some(tree.label().to_owned()),
            detail,
            count: Some(count),
            bytes: Some(bytes),
            ..Evidence::default()
        },
    );
    for file in recoverable {
        let detail = match &file.path {
            Some(_) => format!("deleted, {} bytes", file.size),
            None => format!("deleted, {} bytes, name not recorded", file.size),
        };
        let mut evidence = at(tree, file, detail);
        evidence.bytes = Some(file.size);
        item.add(status, evidence);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::memory::MemoryTree;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFSk9OXwZUL3cm0Dv87LRIsS5tLpEK20PWSH+Z3rSGu+ test@example";
    const KEY_FP: &str = "SHA256:mMoFJmlRRr1nvoGRsJlVvKX5Mb29WXUhulnL5RlG21A";

    fn item<'a>(items: &'a [Item], id: &str) -> &'a Item {
        items.iter().find(|i| i.id == id).unwrap()
    }

    fn run(tree: &MemoryTree) -> Vec<Item> {
        audit(
            &[tree as &dyn FileTree],
            &CheckSet::builtin(),
            &Options::default(),
        )
    }

    #[test]
    fn a_clean_tree_passes() {
        let tree = MemoryTree::of(&[
            (
                "/etc/passwd",
                b"root:x:0:0:root:/root:/bin/bash\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n",
            ),
            (
                "/etc/shadow",
                b"root:*:19000:0:99999:7:::\nsshd:!:19000::::::\n",
            ),
            ("/etc/machine-id", b""),
            ("/root/.bash_history", b""),
            ("/etc/ssh/ssh_host_ed25519_key.pub", KEY.as_bytes()),
        ]);
        for item in run(&tree) {
            assert_eq!(item.status, Status::Pass, "{item:?}");
        }
    }

    #[test]
    fn planted_items_fail_with_their_evidence() {
        let sha512 = "$6$abcdefgh$".to_string() + &"A".repeat(86);
        let shadow = format!("root:*:1:::::::\nalice:{sha512}:1::::::\nbob::1::::::\n");
        let keys = format!("no-pty,from=\"10.0.0.1\" {KEY}\nnot a key\n");
        let mut tree = MemoryTree::of(&[
            ("/etc/passwd", b"root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/srv/bob:/bin/zsh\n"),
            ("/etc/shadow", shadow.as_bytes()),
            ("/etc/ssh/sshd_config", b"AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u\n"),
            ("/etc/ssh/keys/bob", KEY.as_bytes()),
            ("/root/.ssh/authorized_keys", keys.as_bytes()),
            ("/etc/ssh/ssh_host_ed25519_key", b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"),
            ("/etc/ssh/ssh_host_ed25519_key.pub", KEY.as_bytes()),
            ("/srv/bob/.zsh_history", b"ls\n"),
            ("/tmp/a", b"12345"),
            ("/tmp/b/c", b"1"),
            ("/var/crash/core.1", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x04\0"),
            ("/usr/lib/python3/core.py", b"\x7fELF not a core"),
            ("/etc/machine-id", b"0123456789abcdef\n"),
        ]);
        tree.files
            .push(("/home/alice/secret.txt".into(), b"old".to_vec(), true));
        tree.files
            .push(("/home/alice/zeroed".into(), vec![0; 10], true));
        let items = run(&tree);
        let users = |id: &str| -> Vec<String> {
            item(&items, id)
                .evidence
                .iter()
                .filter_map(|e| e.user.clone())
                .collect()
        };
        assert_eq!(item(&items, "accounts.passwords").status, Status::Fail);
        assert_eq!(users("accounts.passwords"), ["alice", "bob"]);
        let details: Vec<&str> = item(&items, "accounts.passwords")
            .evidence
            .iter()
            .map(|e| e.detail.as_str())
            .collect();
        assert!(details[0].contains("sha512-crypt"), "{details:?}");
        // The hash never appears in the report.
        assert!(!format!("{items:?}").contains(&sha512[..20]));
        assert_eq!(users("accounts.uid0"), ["toor"]);
        assert_eq!(users("accounts.login-shells"), ["toor", "alice", "bob"]);
        let keys = item(&items, "ssh.authorized-keys");
        assert_eq!(keys.status, Status::Fail);
        let root_key = keys
            .evidence
            .iter()
            .find(|e| {
                e.path.as_deref() == Some("/root/.ssh/authorized_keys") && e.fingerprint.is_some()
            })
            .unwrap();
        assert_eq!(root_key.fingerprint.as_deref(), Some(KEY_FP));
        assert_eq!(
            root_key.options.as_deref(),
            Some("no-pty,from=\"10.0.0.1\"")
        );
        assert_eq!(root_key.comment.as_deref(), Some("test@example"));
        assert_eq!(root_key.user.as_deref(), Some("root"));
        assert!(
            keys.evidence
                .iter()
                .any(|e| e.count == Some(1) && e.detail.contains("not read as keys"))
        );
        // Named by sshd_config's AuthorizedKeysFile only.
        assert!(
            keys.evidence
                .iter()
                .any(|e| e.path.as_deref() == Some("/etc/ssh/keys/bob")
                    && e.fingerprint.as_deref() == Some(KEY_FP))
        );
        let host = item(&items, "ssh.host-keys");
        assert_eq!(host.evidence.len(), 1, "{host:?}");
        assert_eq!(host.evidence[0].fingerprint.as_deref(), Some(KEY_FP));
        let history = item(&items, "history.files");
        assert_eq!(
            history.evidence[0].path.as_deref(),
            Some("/srv/bob/.zsh_history")
        );
        let tmp = item(&items, "temporary.tmp");
        assert_eq!(
            (tmp.evidence[0].count, tmp.evidence[0].bytes),
            (Some(2), Some(6))
        );
        assert_eq!(tmp.evidence[1].path.as_deref(), Some("/tmp/a"));
        let cores = item(&items, "temporary.core-dumps");
        assert_eq!(cores.evidence.len(), 1);
        assert_eq!(cores.evidence[0].path.as_deref(), Some("/var/crash/core.1"));
        assert_eq!(item(&items, "identity.machine-id").status, Status::Fail);
        let deleted = item(&items, "residual.deleted-files");
        assert_eq!(deleted.status, Status::Fail);
        assert_eq!(deleted.evidence[0].count, Some(1));
        assert!(
            deleted.evidence[0]
                .detail
                .contains("1 more whose first bytes read as zeros")
        );
        assert_eq!(
            deleted.evidence[1].path.as_deref(),
            Some("/home/alice/secret.txt")
        );
    }

    #[test]
    fn cut_reads_are_warnings() {
        let big = "root:*:1::::::\n".repeat((CONFIG_LIMIT / 15 + 10) as usize);
        let tree = MemoryTree::of(&[("/etc/shadow", big.as_bytes())]);
        let items = run(&tree);
        let shadow = item(&items, "accounts.passwords");
        assert_eq!(shadow.status, Status::Warn);
        assert!(
            shadow.evidence[0].detail.contains("only its first"),
            "{shadow:?}"
        );
    }

    #[test]
    fn evidence_is_capped() {
        let files: Vec<(String, Vec<u8>)> = (0..500)
            .map(|i| (format!("/tmp/f{i}"), vec![1u8; i]))
            .collect();
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_slice()))
            .collect();
        let mut tree = MemoryTree::of(&refs);
        tree.files
            .extend((0..300).map(|i| (format!("/home/x{i}/.bash_history"), b"ls".to_vec(), false)));
        let items = run(&tree);
        let tmp = item(&items, "temporary.tmp");
        assert_eq!(tmp.evidence[0].count, Some(500));
        assert_eq!(tmp.evidence.len(), 1 + LARGEST);
        assert_eq!(tmp.evidence[1].bytes, Some(499));
        // No passwd: /home/* are homes all the same; 100 listed, the rest counted.
        let history = item(&items, "history.files");
        assert_eq!(history.status, Status::Fail);
        assert_eq!(
            (history.evidence.len(), history.evidence_omitted),
            (100, 200)
        );
    }
}
