//! LVM2 volume groups written by the real tools on partitions of an image file, without
//! device-mapper: `pvcreate`, `vgcreate`, `lvcreate -an -Zn --driverloaded n` on loop devices
//! (one per partition), with an LVM configuration of the test's own that sees only them and
//! keeps no backups. Where every logical volume's bytes lie is read back from `lvs` and `pvs`
//! (the oracle), never from snapsift.
//!
//! Where loop devices are unavailable, [`Lvm::attach`] says why and returns `None` (never
//! under `CI=true`: [`crate::unavailable`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::{LoopDevice, gpt_disk, unavailable};

/// The two partitions of [`two_pv_disk`], as (offset, size) in bytes.
pub const PARTS: [(u64, u64); 2] = [(1 << 20, 28 << 20), (29 << 20, 28 << 20)];

/// Makes `path` a 64 MiB GPT disk with two 28 MiB Linux LVM partitions ([`PARTS`]).
pub fn two_pv_disk(path: &Path) {
    gpt_disk(
        path,
        64 << 20,
        &[
            "-n",
            "1:2048:+28M",
            "-t",
            "1:8e00",
            "-n",
            "2:0:+28M",
            "-t",
            "2:8e00",
        ],
    );
}

/// Loop devices on partitions of an image, and the LVM configuration that sees only them;
/// the devices are detached on drop.
pub struct Lvm {
    conf: tempfile::TempDir,
    /// The devices, in the order of the partitions given.
    devices: Vec<LoopDevice>,
    /// Each device's partition as (offset, size) in the image.
    parts: Vec<(u64, u64)>,
}

/// One stripe chunk (or a linear segment's whole run) of a logical volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Offset in the logical volume.
    pub volume: u64,
    /// Offset in the image.
    pub disk: u64,
    /// Bytes.
    pub len: u64,
}

impl Lvm {
    /// Attaches the partitions `parts` ((offset, size) in bytes) of `image` writable, or
    /// says why it cannot and returns `None` (never under `CI=true`).
    pub fn attach(image: &Path, parts: &[(u64, u64)]) -> Option<Lvm> {
        let conf = tempfile::Builder::new()
            .prefix("snapsift-lvm-")
            .tempdir()
            .unwrap();
        let mut lvm = Lvm {
            conf,
            devices: Vec::new(),
            parts: parts.to_vec(),
        };
        for &(offset, size) in parts {
            let (offset, size) = (offset.to_string(), size.to_string());
            let options = ["-o", &offset, "--sizelimit", &size];
            let device = match LoopDevice::attach_range(image, &options) {
                Ok(device) => device,
                Err(reason) => {
                    unavailable(&format!("LVM tests need loop devices: {reason}"));
                    return None;
                }
            };
            // Some sandboxes attach loop devices read-only whatever losetup is told.
            let rw = Command::new("blockdev")
                .arg("--setrw")
                .arg(&device.device)
                .status();
            lvm.devices.push(device);
            assert!(rw.is_ok_and(|s| s.success()), "blockdev --setrw");
        }
        let accept: Vec<String> = lvm
            .devices
            .iter()
            .map(|d| format!("\"a|^{}$|\"", d.device.display()))
            .collect();
        let filter = format!("[ {}, \"r|.*|\" ]", accept.join(", "));
        let config = format!(
            "devices {{ filter = {filter} global_filter = {filter} use_devicesfile = 0 \
             obtain_device_list_from_udev = 0 }}\n\
             backup {{ backup = 0 archive = 0 }}\n\
             global {{ use_lvmlockd = 0 locking_dir = \"{}\" }}\n\
             activation {{ udev_sync = 0 udev_rules = 0 }}\n",
            lvm.conf.path().display()
        );
        std::fs::write(lvm.conf.path().join("lvm.conf"), config).unwrap();
        Some(lvm)
    }

    /// Device `i` as a string, for command lines.
    pub fn device(&self, i: usize) -> String {
        self.devices[i].device.display().to_string()
    }

    /// Runs the LVM command `args` with this configuration; fails the test if it fails.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.command(args).output().unwrap_or_else(|e| {
            panic!("cannot run {} (is lvm2 installed?): {e}", args[0]);
        });
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The LVM command `args` with this configuration, to run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(args[0]);
        command
            .args(&args[1..])
            .env("LVM_SYSTEM_DIR", self.conf.path())
            .env("LVM_SUPPRESS_FD_WARNINGS", "1");
        command
    }

    /// Creates logical volume `name` in `vg` without device-mapper, with `options` (`-L 8M`,
    /// `-i 2 -I 64k`...), on `pvs` (any PV of the group if empty).
    pub fn lvcreate(&self, vg: &str, name: &str, options: &[&str], pvs: &[&str]) {
        let mut args = vec!["lvcreate", "--driverloaded", "n", "-an", "-Zn", "-y"];
        args.extend_from_slice(options);
        args.extend_from_slice(&["-n", name, vg]);
        args.extend_from_slice(pvs);
        self.run(&args);
    }

    /// The report `lvm_args` (an `lvs`/`pvs`/`vgs` command line) gives as JSON, in bytes.
    fn report(&self, lvm_args: &[&str], key: &str) -> Vec<serde_json::Value> {
        let mut args = lvm_args.to_vec();
        args.extend_from_slice(&["--reportformat", "json", "--units", "b", "--nosuffix"]);
        let json: serde_json::Value = serde_json::from_str(&self.run(&args)).unwrap();
        json["report"][0][key].as_array().unwrap().clone()
    }

    /// Where every byte of each logical volume of `vg` (hidden ones included) lies in the
    /// image, as `lvs --segments` and `pvs` report it, in chunks in the volume's order.
    pub fn layout(&self, vg: &str) -> BTreeMap<String, Vec<Chunk>> {
        let number = |v: &serde_json::Value| -> u64 { v.as_str().unwrap().trim().parse().unwrap() };
        let extent =
            number(&self.report(&["vgs", "-o", "vg_extent_size", vg], "vg")[0]["vg_extent_size"]);
        let mut pe_start = BTreeMap::new();
        for pv in self.report(&["pvs", "-o", "pv_name,pe_start"], "pv") {
            pe_start.insert(
                pv["pv_name"].as_str().unwrap().to_owned(),
                number(&pv["pe_start"]),
            );
        }
        let mut layout: BTreeMap<String, Vec<Chunk>> = BTreeMap::new();
        let segments = self.report(
            &[
                "lvs",
                "-a",
                "--segments",
                "-o",
                "lv_name,segtype,seg_start_pe,seg_size_pe,stripes,stripe_size,seg_pe_ranges",
                vg,
            ],
            "seg",
        );
        for seg in segments {
            if seg["segtype"] != "striped" && seg["segtype"] != "linear" {
                continue;
            }
            let name = seg["lv_name"]
                .as_str()
                .unwrap()
                .trim_matches(['[', ']'])
                .to_owned();
            let start = number(&seg["seg_start_pe"]) * extent;
            let len = number(&seg["seg_size_pe"]) * extent;
            let stripes = number(&seg["stripes"]);
            let size = if stripes > 1 {
                number(&seg["stripe_size"])
            } else {
                len
            };
            // "/dev/loop0:2-2 /dev/loop1:0-0": each stripe's device and extents.
            let runs: Vec<u64> = seg["seg_pe_ranges"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .map(|range| {
                    let (device, extents) = range.rsplit_once(':').unwrap();
                    let first: u64 = extents.split('-').next().unwrap().parse().unwrap();
                    let index = self
                        .devices
                        .iter()
                        .position(|d| d.device == Path::new(device))
                        .unwrap();
                    self.parts[index].0 + pe_start[device] + first * extent
                })
                .collect();
            assert_eq!(runs.len() as u64, stripes);
            let chunks = layout.entry(name).or_default();
            // dm-stripe deals chunks round-robin over the stripes.
            for index in 0..len / size {
                let (stripe, row) = (index % stripes, index / stripes);
                chunks.push(Chunk {
                    volume: start + index * size,
                    disk: runs[stripe as usize] + row * size,
                    len: size,
                });
            }
        }
        for chunks in layout.values_mut() {
            chunks.sort_by_key(|c| c.volume);
        }
        layout
    }
}

/// Writes `bytes` into the image at `path` as the logical volume `chunks` lays out reads them.
pub fn write_volume(path: &Path, chunks: &[Chunk], bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    for chunk in chunks {
        let start = chunk.volume as usize;
        if start >= bytes.len() {
            break;
        }
        let end = (start + chunk.len as usize).min(bytes.len());
        file.write_all_at(&bytes[start..end], chunk.disk).unwrap();
    }
}

/// The disk offset of volume offset `offset` in `chunks`.
pub fn disk_offset(chunks: &[Chunk], offset: u64) -> u64 {
    let chunk = chunks
        .iter()
        .find(|c| c.volume <= offset && offset < c.volume + c.len)
        .unwrap();
    chunk.disk + (offset - chunk.volume)
}
