//! What an audit reports: one [`Item`] per check, with its status and evidence, per image.
//!
//! These are the JSON objects the binary prints, field for field (`docs/audit.md` documents
//! them); strings read from the image are handed over as they are, the printers escape them.

use serde::Serialize;
use snapsift_engine::mapped::DiskLayout;

use crate::check::{Check, Status};

/// The most evidence entries an item lists; the others are counted in
/// [`Item::evidence_omitted`].
pub const MAX_EVIDENCE: usize = 100;

/// One piece of evidence: where, and what was found there. Never a secret's value, unless
/// the secret scan's item was asked to show it ([`Evidence::secret`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The volume: `partition 1 (ext4)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// The file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Where on the disk it lies: the file's first byte on the disk (past a leading hole),
    /// or the secret's. Absent where its bytes do not lie on the disk as such (compressed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// What was found, in a few words (`sha512-crypt hash`, `3 files, 12 KiB`).
    pub detail: String,
    /// The account it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A file's size, or the bytes counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// How many files (or entries) were counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// A key's type: `ed25519`, `rsa`, `ec`...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// A key's fingerprint, as `ssh-keygen -l` writes it: `SHA256:` and unpadded base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// A key's comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// An `authorized_keys` line's options (`from="10.0.0.1",no-pty`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
    /// The secret scan's rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The secret, only when asked for (`--show-secrets`; masked with `--redact`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// One check's outcome on one image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    /// The check's id.
    pub id: String,
    /// What it checks.
    pub title: String,
    /// Its group.
    pub category: String,
    /// How it came out.
    pub status: Status,
    /// What was found (at most [`MAX_EVIDENCE`]).
    pub evidence: Vec<Evidence>,
    /// How many more pieces of evidence there were.
    pub evidence_omitted: u64,
    /// What to do, in one line.
    pub remediation: String,
}

impl Item {
    /// A passing item of `check`, with no evidence yet.
    pub fn new(check: &Check) -> Item {
        Item {
            id: check.id.clone(),
            title: check.title.clone(),
            category: check.category.clone(),
            status: Status::Pass,
            evidence: Vec::new(),
            evidence_omitted: 0,
            remediation: check.remediation.clone(),
        }
    }

    /// Adds `evidence` that earns `status` (the item keeps the worst status it earned).
    pub fn add(&mut self, status: Status, evidence: Evidence) {
        self.status = self.status.max(status);
        if self.evidence.len() < MAX_EVIDENCE {
            self.evidence.push(evidence);
        } else {
            self.evidence_omitted = self.evidence_omitted.saturating_add(1);
        }
    }
}

/// The audit of one image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImageAudit {
    /// The image's name.
    pub image: String,
    /// What it is (`raw image`, `qcow2 image`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The worst status of its items (`fail` if it could not be audited), as
    /// [`ImageAudit::settle`] sets it.
    pub status: Status,
    /// The filesystems the checks read, by volume name.
    pub filesystems: Vec<String>,
    /// How the disk is divided: what the HTML report draws.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<DiskLayout>,
    /// The items, in the checks' order.
    pub items: Vec<Item>,
    /// Why the image could not be audited (then the items are what was done before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ImageAudit {
    /// The worst status of the items; `fail` for an image that could not be audited.
    pub fn worst(&self) -> Status {
        let items = self.items.iter().map(|i| i.status).max();
        if self.error.is_some() {
            return Status::Fail;
        }
        items.unwrap_or(Status::Pass)
    }

    /// Sets [`ImageAudit::status`] from the items.
    pub fn settle(&mut self) {
        self.status = self.worst();
    }
}
