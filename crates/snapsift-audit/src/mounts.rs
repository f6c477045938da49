//! Filesystems mounted under the root one: `/home` on its own partition or logical volume, as
//! `/etc/fstab` says, so that the checks see `/home/deploy/.ssh/authorized_keys` where the
//! home filesystem holds `/deploy/.ssh/authorized_keys`, with the root's accounts.
//!
//! The root is the first filesystem holding `/etc/fstab`. Each fstab entry whose mount point
//! is not `/` is matched with another filesystem of the image by what its spec names: a
//! `UUID=` or `LABEL=` its superblock records (ext2/3/4, XFS, btrfs; the volume serial of FAT,
//! exFAT and NTFS as `UUID=`), or an LVM2 logical volume (`/dev/mapper/VG-LV`,
//! `/dev/VG/LV`). Specs that name nothing here (`PARTUUID=`, network filesystems, `tmpfs`)
//! are left alone. The fstab is read up to [`crate::run::CONFIG_LIMIT`] bytes and its first
//! [`MAX_ENTRIES`] entries; every string in it is the image's, and only compared.

use std::ops::Range;

use snapsift_engine::mapped::{FileBytes, FileState, ListedFile};

use crate::AuditError;
use crate::run::CONFIG_LIMIT;
use crate::tree::FileTree;

/// The most fstab entries read.
pub const MAX_ENTRIES: usize = 1024;

/// One line of `/etc/fstab`: what is mounted, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FstabEntry {
    /// The first field: `UUID=...`, `LABEL=...`, a device path.
    pub spec: String,
    /// The second field, an absolute path without a trailing `/`.
    pub mount_point: String,
}

/// The entries of an fstab's text that mount a filesystem somewhere below `/` (swap, `none`
/// and relative mount points are left out), at most [`MAX_ENTRIES`].
pub fn parse_fstab(text: &str) -> Vec<FstabEntry> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let mut fields = line.split_whitespace();
            let (spec, mount_point) = (fields.next()?, fields.next()?);
            let mount_point = unescape_octal(mount_point);
            let mount_point = mount_point.trim_end_matches('/');
            let below_root = mount_point.starts_with('/') && !mount_point.is_empty();
            let sound = !mount_point
                .split('/')
                .any(|part| part == ".." || part == ".");
            (below_root && sound).then(|| FstabEntry {
                spec: unescape_octal(spec),
                mount_point: mount_point.to_owned(),
            })
        })
        .take(MAX_ENTRIES)
        .collect()
}

/// fstab's escapes (`\040` for a space) undone.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes.get(i.saturating_add(1)..i.saturating_add(4));
        match digits {
            Some(d) if bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)) => {
                let value = d.iter().fold(0u32, |v, c| {
                    v.saturating_mul(8)
                        .saturating_add(u32::from(c.saturating_sub(b'0')))
                });
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i = i.saturating_add(4);
            }
            _ => {
                out.push(bytes[i]);
                i = i.saturating_add(1);
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a filesystem can be named by in an fstab.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// Its UUID (or volume serial), as `blkid` prints it.
    pub uuid: Option<String>,
    /// Its label.
    pub label: Option<String>,
}

/// The identity `tree`'s superblock records, by its kind.
pub fn identify(tree: &dyn FileTree) -> Identity {
    let read = |at: u64, len: usize| {
        let mut buf = vec![0u8; len];
        tree.read_volume(at, &mut buf).ok().map(|()| buf)
    };
    let uuid16 = |at| {
        read(at, 16)
            .filter(|b| b.iter().any(|&x| x != 0))
            .map(|b| uuid_text(&b))
    };
    let text = |at, len| {
        read(at, len).and_then(|b| {
            let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
            let label = String::from_utf8_lossy(&b[..end]).trim().to_owned();
            (!label.is_empty()).then_some(label)
        })
    };
    let serial = |at, len: usize| {
        read(at, len).map(|b| {
            let hex: String = b.iter().rev().map(|x| format!("{x:02X}")).collect();
            if len == 4 {
                format!("{}-{}", &hex[..4], &hex[4..])
            } else {
                hex
            }
        })
    };
    match tree.kind() {
        "ext4" => Identity {
            uuid: uuid16(1024 + 0x68),
            label: text(1024 + 0x78, 16),
        },
        "xfs" => Identity {
            uuid: uuid16(32),
            label: text(108, 12),
        },
        "btrfs" => Identity {
            uuid: uuid16(0x1_0000 + 0x20),
            label: text(0x1_0000 + 0x12b, 256),
        },
        "fat" => {
            // FAT32 keeps its serial further in than FAT12/16: told by its FAT size field.
            let fat32 = read(22, 2).is_some_and(|b| b == [0, 0]);
            Identity {
                uuid: serial(if fat32 { 0x43 } else { 0x27 }, 4),
                label: None,
            }
        }
        "exfat" => Identity {
            uuid: serial(0x64, 4),
            label: None,
        },
        "ntfs" => Identity {
            uuid: serial(0x48, 8),
            label: None,
        },
        _ => Identity::default(),
    }
}

/// 16 bytes as a UUID in the order they are stored (as ext4, XFS and btrfs keep theirs).
fn uuid_text(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Whether the fstab `spec` names a filesystem with `identity` on the volume `label`
/// (`volume vg/home (ext4)` for a logical volume).
fn names(spec: &str, identity: &Identity, label: &str) -> bool {
    let equal = |value: &Option<String>, wanted: &str| {
        value
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
    };
    if let Some(uuid) = spec.strip_prefix("UUID=") {
        return equal(&identity.uuid, uuid.trim_matches('"'));
    }
    if let Some(wanted) = spec.strip_prefix("LABEL=") {
        return identity.label.as_deref() == Some(wanted.trim_matches('"'));
    }
    let logical = if let Some(mapped) = spec.strip_prefix("/dev/mapper/") {
        mapper_name(mapped)
    } else {
        spec.strip_prefix("/dev/")
            .filter(|rest| rest.matches('/').count() == 1)
            .map(str::to_owned)
    };
    logical.is_some_and(|name| label.starts_with(&format!("volume {name} ")))
}

/// `vg/lv` from a device-mapper name `vg-lv` (a `-` inside either name is written `--`).
fn mapper_name(mapped: &str) -> Option<String> {
    let bytes = mapped.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'-' {
            if bytes.get(i.saturating_add(1)) == Some(&b'-') {
                i = i.saturating_add(2);
                continue;
            }
            let (vg, lv) = (&mapped[..i], &mapped[i.saturating_add(1)..]);
            return Some(format!(
                "{}/{}",
                vg.replace("--", "-"),
                lv.replace("--", "-")
            ));
        }
        i = i.saturating_add(1);
    }
    None
}

/// For each of `trees`, where the root filesystem's fstab mounts it (`/home`), if anywhere;
/// and the index of the root, if a filesystem holds `/etc/fstab`.
pub fn mount_points(trees: &[&dyn FileTree]) -> (Vec<Option<String>>, Option<usize>) {
    let mut points = vec![None; trees.len()];
    let Some((root, fstab)) = trees.iter().enumerate().find_map(|(i, tree)| {
        let mut found = None;
        tree.each_file(&mut |file| {
            if found.is_none()
                && file.state == FileState::Allocated
                && file.path.as_deref() == Some("/etc/fstab")
            {
                found = Some(file.index);
            }
        });
        Some((i, tree.read(found?, CONFIG_LIMIT).ok()?))
    }) else {
        return (points, None);
    };
    let entries = parse_fstab(&String::from_utf8_lossy(&fstab.bytes));
    for (i, tree) in trees.iter().enumerate() {
        if i == root {
            continue;
        }
        let identity = identify(*tree);
        points[i] = entries
            .iter()
            .find(|entry| names(&entry.spec, &identity, tree.label()))
            .map(|entry| entry.mount_point.clone());
    }
    (points, Some(root))
}

/// A filesystem seen where it is mounted: its paths under `mount_point`.
pub struct Mounted<'a> {
    /// The filesystem.
    pub tree: &'a dyn FileTree,
    /// Where it is mounted, without a trailing `/`.
    pub mount_point: &'a str,
}

impl FileTree for Mounted<'_> {
    fn label(&self) -> &str {
        self.tree.label()
    }

    fn kind(&self) -> &str {
        self.tree.kind()
    }

    fn each_file(&self, visit: &mut dyn FnMut(ListedFile)) {
        self.tree.each_file(&mut |mut file| {
            if let Some(path) = &file.path {
                file.path = Some(format!("{}{path}", self.mount_point));
            }
            visit(file);
        });
    }

    fn read(&self, index: usize, limit: u64) -> Result<FileBytes, AuditError> {
        self.tree.read(index, limit)
    }

    fn disk_offset(&self, index: usize) -> Option<u64> {
        self.tree.disk_offset(index)
    }

    fn case_insensitive(&self) -> bool {
        self.tree.case_insensitive()
    }

    fn ranges(&self) -> Vec<Range<u64>> {
        self.tree.ranges()
    }

    fn locate(&self, offset: u64) -> (FileState, Range<u64>) {
        self.tree.locate(offset)
    }

    fn read_volume(&self, offset: u64, buf: &mut [u8]) -> Result<(), AuditError> {
        self.tree.read_volume(offset, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fstab_entries_below_root() {
        let text = "# comment\nUUID=1234 / ext4 defaults 0 1\n\
                    UUID=ABCD-EF01  /boot/efi vfat umask=0077 0 1\n\
                    /dev/mapper/ubuntu--vg-home /home ext4 defaults 0 2\n\
                    LABEL=data\\040disk /srv/my\\040data xfs defaults\n\
                    /swap.img none swap sw 0 0\ntmpfs /tmp tmpfs defaults\n\
                    /dev/sdb1 ../../escape ext4\nUUID=x /a/../b ext4\nbroken\n";
        let entries = parse_fstab(text);
        let pairs: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.spec.as_str(), e.mount_point.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("UUID=ABCD-EF01", "/boot/efi"),
                ("/dev/mapper/ubuntu--vg-home", "/home"),
                ("LABEL=data disk", "/srv/my data"),
                ("tmpfs", "/tmp"),
            ]
        );
    }

    #[test]
    fn specs_name_filesystems() {
        let ext4 = Identity {
            uuid: Some("6f1c1a0e-2d2b-4c55-9a4e-0b8a9d6f3e21".to_owned()),
            label: Some("home".to_owned()),
        };
        assert!(names(
            "UUID=6F1C1A0E-2d2b-4c55-9a4e-0b8a9d6f3e21",
            &ext4,
            "partition 2 (ext4)"
        ));
        assert!(names(
            "UUID=\"6f1c1a0e-2d2b-4c55-9a4e-0b8a9d6f3e21\"",
            &ext4,
            ""
        ));
        assert!(names("LABEL=home", &ext4, ""));
        assert!(!names("LABEL=Home", &ext4, ""));
        assert!(!names("UUID=6f1c1a0e", &ext4, ""));
        let lv = "volume ubuntu-vg/home (ext4)";
        assert!(names(
            "/dev/mapper/ubuntu--vg-home",
            &Identity::default(),
            lv
        ));
        assert!(names("/dev/ubuntu-vg/home", &Identity::default(), lv));
        assert!(!names("/dev/ubuntu-vg/homes", &Identity::default(), lv));
        assert!(!names(
            "/dev/sda2",
            &Identity::default(),
            "partition 2 (ext4)"
        ));
        assert_eq!(mapper_name("a--b-c--d").as_deref(), Some("a-b/c-d"));
        assert_eq!(mapper_name("nodash"), None);
    }
}
