//! Checks as data: what each looks at, how it reads it and the status a finding earns.
//!
//! The built-in checks are [`BUILTIN`] (`checks.toml`, compiled in); a team adds its own,
//! or replaces a built-in one by giving its id, with a file of the same form
//! ([`CheckSet::extend`]). A check names a [`Kind`] (how its files are read and judged),
//! path patterns ([`crate::glob`]), the [`Status`] a finding earns and a one-line
//! remediation. See `docs/audit.md` for each kind.

use serde::{Deserialize, Serialize};

use crate::AuditError;
use crate::glob::Pattern;

/// The built-in checks, in the form a check file has.
pub const BUILTIN: &str = include_str!("checks.toml");

/// How an item came out.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing found.
    #[default]
    Pass,
    /// Something to review.
    Warn,
    /// Something to remove before the image leaves.
    Fail,
}

impl Status {
    /// `pass`, `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// How a check reads the files its patterns match, and what it reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Each file matched (non-empty only, with `non_empty`; holding what `sniff` says, with
    /// `sniff`) is evidence.
    Files,
    /// The files matched are counted and summed; the largest are listed.
    Summary,
    /// `shadow(5)` files: accounts with a usable hash or an empty password field (and, as a
    /// warning, locked accounts whose hash is still there). The hash is never reported.
    Shadow,
    /// `passwd(5)` files: accounts with UID 0 other than those `users` names.
    RootAccounts,
    /// `passwd(5)` files: accounts other than `users` whose shell is not one of `shells`.
    LoginShells,
    /// `authorized_keys` files: each key's type, SHA256 fingerprint, comment and options.
    /// Besides `paths`, the files `AuthorizedKeysFile` names in the sshd configuration files
    /// `config` names, for every account.
    AuthorizedKeys,
    /// Files holding a private key block (`.pub` files matched name their public half).
    PrivateKeys,
    /// Deleted files whose contents are still on the disk.
    Deleted,
    /// Free space holding old contents: the filesystem's unallocated bytes, sampled.
    FreeSpace,
    /// Sysprep's `State.ini`: an `ImageState` not among `values` (or none, on a filesystem
    /// `applies_to` matches) earns the status; Sysprep's `logs` are listed.
    ImageState,
    /// Unattend answer files: each password with a value (decoded from base64 where
    /// `PlainText` is `false`; the value itself only with `--show-secrets`).
    Unattend,
    /// `SAM` hives: enabled local accounts with a password hash (the status), enabled ones
    /// with none (warn), disabled ones (listed); from the structure, nothing decrypted.
    Sam,
    /// Registry hives (`NTUSER.DAT`): each subkey of `key` (a saved session, server), with
    /// its `detail_values`; one holding a non-empty value among `secret_values` earns the
    /// status, the others at most a warning (or the status, if `secret_values` is empty).
    Registry,
    /// The Recycle Bin: its `$I` files (the original name and size of each file deleted
    /// to it) and the bytes of its `$R` files.
    RecycleBin,
    /// The secret scan's findings (the binary runs the scan).
    Secrets,
}

/// What a `files` check looks for inside each file (its first 4 KiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sniff {
    /// An ELF core dump (`ET_CORE`).
    ElfCore,
}

/// One check, as a check file writes it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Its id, stable: `ssh.authorized-keys`.
    pub id: String,
    /// What it checks, for people.
    pub title: String,
    /// The group it belongs to: `accounts`, `ssh`, `histories`...
    pub category: String,
    /// How its files are read.
    pub kind: Kind,
    /// The files it reads (see [`crate::glob`]).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Files matched by `paths` it leaves out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Only non-empty files count.
    #[serde(default)]
    pub non_empty: bool,
    /// What a `files` check looks for inside each file.
    #[serde(default)]
    pub sniff: Option<Sniff>,
    /// `login-shells`: shells that give no login. `root-accounts` / `login-shells`: the
    /// accounts left out are in `users`.
    #[serde(default)]
    pub shells: Vec<String>,
    /// Accounts the check leaves out.
    #[serde(default)]
    pub users: Vec<String>,
    /// `authorized-keys`: the sshd configuration files to read for `AuthorizedKeysFile`
    /// (`Include`d files are read if these patterns match them too).
    #[serde(default)]
    pub config: Vec<String>,
    /// The files one of which must be there for the check to run on a filesystem (a
    /// Windows check, on a Windows volume): empty, always.
    #[serde(default)]
    pub applies_to: Vec<String>,
    /// `image-state`: the states that pass.
    #[serde(default)]
    pub values: Vec<String>,
    /// `image-state`: Sysprep's logs, listed as evidence of its runs.
    #[serde(default)]
    pub logs: Vec<String>,
    /// `registry`: the key whose subkeys are reported, below the hive's root
    /// (`Software\SimonTatham\PuTTY\Sessions`).
    #[serde(default)]
    pub key: Option<String>,
    /// `registry`: values whose presence (non-empty) in a subkey earns the status.
    #[serde(default)]
    pub secret_values: Vec<String>,
    /// `registry`: values shown in the evidence (`HostName`, `UserName`).
    #[serde(default)]
    pub detail_values: Vec<String>,
    /// The status a finding earns.
    pub status: Status,
    /// What to do about a finding, in one line.
    pub remediation: String,
}

/// A check file: `[[check]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckFile {
    #[serde(default)]
    check: Vec<Check>,
}

/// The checks an audit runs, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSet {
    /// The checks.
    pub checks: Vec<Check>,
}

impl CheckSet {
    /// The built-in checks.
    pub fn builtin() -> CheckSet {
        // The built-in file is tested to parse: this cannot fail in a released build.
        CheckSet::parse(BUILTIN).unwrap_or(CheckSet { checks: Vec::new() })
    }

    /// The checks of a check file (TOML, `[[check]]` tables).
    pub fn parse(text: &str) -> Result<CheckSet, AuditError> {
        let file: CheckFile =
            toml::from_str(text).map_err(|e| AuditError::Checks(e.to_string()))?;
        let set = CheckSet { checks: file.check };
        set.validate()?;
        Ok(set)
    }

    /// Adds `other`'s checks: one with the id of a check here replaces it (in its place),
    /// the others are added at the end.
    pub fn extend(&mut self, other: CheckSet) {
        for check in other.checks {
            match self.checks.iter_mut().find(|c| c.id == check.id) {
                Some(slot) => *slot = check,
                None => self.checks.push(check),
            }
        }
    }

    /// Every check's patterns parse, ids are unique and each kind has what it needs.
    fn validate(&self) -> Result<(), AuditError> {
        let bad = |id: &str, why: &str| Err(AuditError::Checks(format!("check {id:?}: {why}")));
        for (i, check) in self.checks.iter().enumerate() {
            let id = &check.id;
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return bad(id, "an id is letters, digits, '-', '_' and '.'");
            }
            if self.checks[..i].iter().any(|c| c.id == *id) {
                return bad(id, "two checks have this id");
            }
            for pattern in check
                .paths
                .iter()
                .chain(&check.exclude)
                .chain(&check.config)
                .chain(&check.applies_to)
                .chain(&check.logs)
            {
                Pattern::parse(pattern)?;
            }
            let needs_paths =
                !matches!(check.kind, Kind::Deleted | Kind::Secrets | Kind::FreeSpace);
            if needs_paths && check.paths.is_empty() {
                return bad(id, "this kind reads files: give it paths");
            }
            if check.sniff.is_some() && check.kind != Kind::Files {
                return bad(id, "sniff is for checks of kind files");
            }
            if check.kind == Kind::LoginShells && check.shells.is_empty() {
                return bad(id, "login-shells needs the shells that give no login");
            }
            if check.kind == Kind::Registry && check.key.is_none() {
                return bad(id, "registry needs the key whose subkeys it reports");
            }
            if check.kind == Kind::ImageState && check.values.is_empty() {
                return bad(id, "image-state needs the states that pass (values)");
            }
            if check.remediation.contains('\n') || check.remediation.is_empty() {
                return bad(id, "the remediation is one line");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_checks_parse() {
        let set = CheckSet::parse(BUILTIN).unwrap();
        assert!(set.checks.len() > 15);
        assert_eq!(CheckSet::builtin(), set);
    }

    #[test]
    fn a_team_file_adds_and_replaces() {
        let mut set = CheckSet::builtin();
        let before = set.checks.len();
        let team = CheckSet::parse(
            r#"
            [[check]]
            id = "team.terraform-state"
            title = "Terraform state files"
            category = "credentials"
            kind = "files"
            paths = ["/**/terraform.tfstate"]
            status = "fail"
            remediation = "Remove terraform.tfstate from the image"

            [[check]]
            id = "temporary.logs"
            title = "Logs"
            category = "temporary"
            kind = "summary"
            paths = ["/var/log/**"]
            status = "fail"
            remediation = "Empty /var/log"
            "#,
        )
        .unwrap();
        set.extend(team);
        assert_eq!(set.checks.len(), before + 1);
        let logs = set
            .checks
            .iter()
            .find(|c| c.id == "temporary.logs")
            .unwrap();
        assert_eq!(logs.status, Status::Fail);
    }

    #[test]
    fn bad_check_files_are_refused() {
        let base = |extra: &str| {
            format!(
                "[[check]]\nid = \"x\"\ntitle = \"t\"\ncategory = \"c\"\nstatus = \"warn\"\n\
                 remediation = \"r\"\n{extra}"
            )
        };
        for (extra, why) in [
            ("kind = \"files\"\n", "give it paths"),
            (
                "kind = \"files\"\npaths = [\"relative\"]\n",
                "must start with",
            ),
            (
                "kind = \"files\"\npaths = [\"/a\"]\ntypo = 1\n",
                "unknown field",
            ),
            ("kind = \"nope\"\npaths = [\"/a\"]\n", "unknown variant"),
            (
                "kind = \"summary\"\npaths = [\"/a\"]\nsniff = \"elf-core\"\n",
                "sniff",
            ),
        ] {
            let error = CheckSet::parse(&base(extra)).unwrap_err().to_string();
            assert!(error.contains(why), "{extra}: {error}");
        }
        let twice = format!(
            "{}{}",
            base("kind = \"deleted\"\n"),
            base("kind = \"deleted\"\n")
        );
        assert!(
            CheckSet::parse(&twice)
                .unwrap_err()
                .to_string()
                .contains("two checks")
        );
    }
}
