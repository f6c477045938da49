//! The Windows check kinds: Sysprep's state, unattend answer files, the `SAM` and
//! `NTUSER.DAT` hives, the Recycle Bin (the readers are in [`crate::windows`] and
//! [`crate::hive`]).

use snapsift_engine::shown::mask;

use super::{CONFIG_LIMIT, Matched, Options, SNIFF_LIMIT, at, owner_of, read, why};
use crate::accounts::Account;
use crate::check::{Check, Status};
use crate::hive::Hive;
use crate::report::{Evidence, Item};
use crate::tree::FileTree;
use crate::windows::{
    image_state as state_of, recycled, sam_accounts, text_of, unattend_passwords,
};

/// The longest registry string shown in evidence, in characters.
const MAX_SHOWN: usize = 200;
/// The most accounts read from one `SAM` hive.
const MAX_SAM_ACCOUNTS: usize = 10_000;
/// The most subkeys (sessions, servers) read from one key: with [`crate::hive::MAX_VALUES`]
/// values each at most, a hostile hive costs at most 40 million value reads.
const MAX_SUBKEYS: usize = 10_000;

/// `image-state`: each `State.ini`'s `ImageState` (one of `values` passes), Sysprep's logs
/// listed; no `State.ini` at all on a filesystem the check applies to earns the status.
pub(super) fn image_state(
    tree: &dyn FileTree,
    check: &Check,
    found: &Matched,
    logs: &Matched,
    item: &mut Item,
) {
    if found.files.is_empty() {
        item.add(
            check.status,
            Evidence {
                volume: Some(tree.label().to_owned()),
                detail: "no Sysprep State.ini: this Windows was never generalized".to_owned(),
                ..Evidence::default()
            },
        );
    }
    for file in &found.files {
        let Some(bytes) = read(tree, file, SNIFF_LIMIT, item) else {
            continue;
        };
        let (status, detail) = match state_of(&text_of(&bytes)) {
            Some(state) if check.values.iter().any(|v| v.eq_ignore_ascii_case(&state)) => {
                (Status::Pass, format!("ImageState {state}: generalized"))
            }
            Some(state) => (check.status, format!("ImageState {state}: not generalized")),
            None => (
                check.status,
                "no ImageState in its [State] section".to_owned(),
            ),
        };
        item.add(status, at(tree, file, detail));
    }
    for file in &logs.largest {
        let mut evidence = at(tree, file, format!("Sysprep log, {} bytes", file.size));
        evidence.bytes = Some(file.size);
        item.add(Status::Pass, evidence);
    }
}

/// `unattend`: each password an answer file holds (its value only when asked for).
pub(super) fn unattend(
    tree: &dyn FileTree,
    check: &Check,
    found: &Matched,
    options: &Options,
    item: &mut Item,
) {
    for file in &found.files {
        let Some(bytes) = read(tree, file, CONFIG_LIMIT, item) else {
            continue;
        };
        for password in unattend_passwords(&text_of(&bytes)) {
            let stored = if password.encoded {
                "stored base64 (PlainText false), decoded"
            } else {
                "in plain text"
            };
            let mut evidence = at(
                tree,
                file,
                format!(
                    "{} {} of {} characters, {stored}",
                    password.within,
                    password.element,
                    password.value.chars().count()
                ),
            );
            evidence.user = password.user;
            evidence.secret = options.show_secrets.then(|| {
                if options.redact {
                    mask(password.value.as_bytes())
                } else {
                    password.value
                }
            });
            item.add(check.status, evidence);
        }
    }
}

/// Reads `file` as a hive: `None` (said on `item`) if it cannot be read or parsed; a dirty
/// hive is said too (its logs are not read).
fn with_hive(
    tree: &dyn FileTree,
    file: &snapsift_engine::mapped::ListedFile,
    item: &mut Item,
    visit: impl FnOnce(&Hive, &mut Item) -> Result<(), crate::AuditError>,
) {
    let Some(bytes) = read(tree, file, CONFIG_LIMIT, item) else {
        return;
    };
    let result = Hive::parse(&bytes).and_then(|hive| {
        if hive.dirty {
            item.add(
                Status::Warn,
                at(
                    tree,
                    file,
                    "the hive was not closed cleanly: changes still in its .LOG1/.LOG2 \
                     files were not read"
                        .to_owned(),
                ),
            );
        }
        visit(&hive, item)
    });
    if let Err(error) = result {
        item.add(
            Status::Warn,
            at(
                tree,
                file,
                format!("cannot be read as a hive: {}", why(&error)),
            ),
        );
    }
}

/// `sam`: the local accounts of each `SAM` hive.
pub(super) fn sam(tree: &dyn FileTree, check: &Check, found: &Matched, item: &mut Item) {
    for file in &found.files {
        with_hive(tree, file, item, |hive, item| {
            for account in sam_accounts(hive, MAX_SAM_ACCOUNTS)? {
                let mut hashes = Vec::new();
                if account.nt_hash {
                    hashes.push("NT hash");
                }
                if account.lm_hash {
                    hashes.push("LM hash");
                }
                let holds = if hashes.is_empty() {
                    "no password hash".to_owned()
                } else {
                    format!("{} present", hashes.join(" and "))
                };
                let (status, state) = match account.disabled {
                    Some(true) => (Status::Pass, "disabled"),
                    _ if !hashes.is_empty() => (check.status, "enabled"),
                    _ => (Status::Warn, "enabled, logs on without a password"),
                };
                let mut evidence = at(
                    tree,
                    file,
                    format!("local account, RID {}, {state}, {holds}", account.rid),
                );
                evidence.user = Some(account.name);
                item.add(status, evidence);
            }
            Ok(())
        });
    }
}

/// `registry`: each subkey of the check's key in each hive, with its detail values; one
/// holding a secret value earns the status.
pub(super) fn registry(
    tree: &dyn FileTree,
    check: &Check,
    found: &Matched,
    accounts: &[Account],
    item: &mut Item,
) {
    let Some(key_path) = check.key.as_deref() else {
        return;
    };
    let leaf = key_path.rsplit('\\').next().unwrap_or(key_path);
    for file in &found.files {
        let owner = file.path.as_deref().and_then(|p| owner_of(p, accounts));
        with_hive(tree, file, item, |hive, item| {
            let Some(key) = hive.root_key()?.descend(key_path)? else {
                return Ok(());
            };
            let subkeys = key.subkeys()?;
            if subkeys.len() > MAX_SUBKEYS {
                let mut evidence = at(
                    tree,
                    file,
                    format!(
                        "{} entries under {key_path}; only the first {MAX_SUBKEYS} were read",
                        subkeys.len()
                    ),
                );
                evidence.count = Some(subkeys.len() as u64);
                item.add(Status::Warn, evidence);
            }
            for entry in subkeys.into_iter().take(MAX_SUBKEYS) {
                let mut shown = Vec::new();
                let mut secrets = Vec::new();
                for value in entry.values()? {
                    if check
                        .detail_values
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(&value.name))
                        && let Some(text) = value.string()?
                        && !text.is_empty()
                    {
                        let text: String = text.chars().take(MAX_SHOWN).collect();
                        shown.push(format!("{}={text}", value.name));
                    }
                    if check
                        .secret_values
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(&value.name))
                    {
                        let filled = match value.string()? {
                            Some(text) => !text.is_empty(),
                            None => value.size > 0,
                        };
                        if filled {
                            secrets.push(value.name.clone());
                        }
                    }
                }
                let status = if check.secret_values.is_empty() || !secrets.is_empty() {
                    check.status
                } else {
                    check.status.min(Status::Warn)
                };
                let mut detail = format!("{leaf} \"{}\"", entry.name()?);
                if !shown.is_empty() {
                    detail.push_str(&format!(" ({})", shown.join(", ")));
                }
                if !secrets.is_empty() {
                    detail.push_str(&format!(": a saved {} value", secrets.join(", ")));
                }
                let mut evidence = at(tree, file, detail);
                evidence.user.clone_from(&owner);
                item.add(status, evidence);
            }
            Ok(())
        });
    }
}

/// `recycle-bin`: the files deleted to the Recycle Bin, by their `$I` files (original name
/// and size), and the bytes their `$R` contents still take.
pub(super) fn recycle_bin(tree: &dyn FileTree, check: &Check, found: &Matched, item: &mut Item) {
    if found.count == 0 {
        return;
    }
    let mut listed = Vec::new();
    for file in &found.files {
        let Some(path) = file.path.as_deref() else {
            continue;
        };
        let mut parts = path.rsplit('/');
        let name = parts.next().unwrap_or("");
        let folder = parts.next().unwrap_or("");
        // `$I` files sit in the user's folder; a `$I` name inside a deleted folder is data.
        let is_info = name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("$I"))
            && !folder
                .get(..2)
                .is_some_and(|p| p.eq_ignore_ascii_case("$R"));
        if !is_info {
            continue;
        }
        let Some(bytes) = read(tree, file, SNIFF_LIMIT, item) else {
            continue;
        };
        let mut evidence = match recycled(&bytes) {
            Some(info) => {
                let mut evidence = at(
                    tree,
                    file,
                    format!("deleted {}, {} bytes", info.path, info.size),
                );
                evidence.bytes = Some(info.size);
                evidence
            }
            None => at(tree, file, "a $I file that does not read as one".to_owned()),
        };
        evidence.user = Some(folder.to_owned());
        listed.push(evidence);
    }
    item.add(
        check.status,
        Evidence {
            volume: Some(tree.label().to_owned()),
            detail: format!(
                "{} file(s) deleted to the Recycle Bin; its files take {} bytes",
                listed.len(),
                found.bytes
            ),
            count: Some(listed.len() as u64),
            bytes: Some(found.bytes),
            ..Evidence::default()
        },
    );
    for evidence in listed {
        item.add(check.status, evidence);
    }
}
