//! `cargo xtask fuzz-seeds`: the seed corpora of the fuzz targets (fuzz/), made from the
//! sample disk in testdata/, the built-in rules' examples, and by the real tools (qemu-img,
//! qemu-io, sgdisk, sfdisk, mkfs.ext4, debugfs, mkntfs with ntfs-3g, tar, zip, gzip, zstd, xz,
//! bzip2, openssl, gpg; cryptsetup, mkswap, and as root the LVM2 tools on a loop device).
//!
//! Seeds go to fuzz/corpus/TARGET/seed-NAME, where `cargo fuzz run TARGET` finds them; the
//! corpora are not committed (fuzz/.gitignore). Seeds are small (at most a few MiB, mostly
//! under 1 MiB) so that libFuzzer's mutations land on structures, not on bulk data.
//!
//! Images that name other files (qcow2 backing files, VMDK extents and parents) are written as
//! one input holding every file, joined with the separator the fuzz targets split at
//! (`snapsift_fuzz::image::SEPARATOR`), the files named `a` (the image), `b` and `c` as the
//! targets name them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::shared::sample_disk::IMAGE_NAME;
use crate::shared::workspace::{self, display, run_tool};

/// Must equal `snapsift_fuzz::image::SEPARATOR` (fuzz/src/image.rs).
const SEPARATOR: &[u8] = b"\n--snapsift-fuzz-next-file--\n";
const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// Builds every target's seeds in a scratch directory under target/, then writes them.
pub fn run() -> Result<()> {
    let work = workspace::target_dir().join("fuzz-seeds");
    if work.exists() {
        fs::remove_dir_all(&work)?;
    }
    fs::create_dir_all(&work)?;
    let seeds = Seeds {
        corpus: workspace::root().join("fuzz").join("corpus"),
        work: work.clone(),
    };
    let disk = seeds.sample_head()?;
    seeds.volumes(&disk)?;
    seeds.volume_kinds()?;
    seeds.ext4()?;
    seeds.ntfs()?;
    seeds.qcow2(&disk)?;
    seeds.vhd(&disk)?;
    seeds.vhdx(&disk)?;
    seeds.vmdk(&disk)?;
    seeds.archives()?;
    seeds.streams(&disk)?;
    seeds.checks()?;
    fs::remove_dir_all(&work)?;
    println!("seeds written to {}", display(&seeds.corpus));
    Ok(())
}

/// Where seeds are made and where they go.
struct Seeds {
    corpus: PathBuf,
    work: PathBuf,
}

impl Seeds {
    /// Saves `files` (the image first, then the files it names) as seed `name` of `target`.
    fn save(&self, target: &str, name: &str, files: &[&Path]) -> Result<()> {
        let mut input = Vec::new();
        for (i, file) in files.iter().enumerate() {
            if i > 0 {
                input.extend_from_slice(SEPARATOR);
            }
            input.extend(fs::read(file).with_context(|| display(file))?);
        }
        let dir = self.corpus.join(target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(format!("seed-{name}")), input)?;
        Ok(())
    }

    /// Saves `bytes` as seed `name` of `target`.
    fn save_bytes(&self, target: &str, name: &str, bytes: &[u8]) -> Result<()> {
        let dir = self.corpus.join(target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(format!("seed-{name}")), bytes)?;
        Ok(())
    }

    /// A fresh scratch directory `name`.
    fn dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.work.join(name);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// The first 2 MiB of testdata's sample disk: its GPT and the start of its ext4
    /// partition (superblock, group descriptors, the first inodes), the base of the image
    /// format seeds.
    fn sample_head(&self) -> Result<PathBuf> {
        let compressed = workspace::root().join("testdata").join(IMAGE_NAME);
        let mut decoder = zstd::stream::Decoder::new(
            fs::File::open(&compressed).with_context(|| display(&compressed))?,
        )?;
        let mut head = vec![0u8; (2 * MIB) as usize];
        std::io::Read::read_exact(&mut decoder, &mut head)?;
        let path = self.work.join("sample-head.img");
        fs::write(&path, &head)?;
        Ok(path)
    }

    /// GPT and MBR tables: the sample's GPT, and tables sgdisk and sfdisk write on small
    /// disks (GPT with several partitions, MBR with an extended partition and logical ones).
    fn volumes(&self, sample: &Path) -> Result<()> {
        self.save("volumes", "sample-gpt", &[sample])?;
        let dir = self.dir("volumes")?;
        let gpt = blank(&dir.join("gpt.img"), 512 * KIB)?;
        tool(
            "sgdisk",
            &[
                "-a",
                "1",
                "-n",
                "1:34:+100K",
                "-t",
                "1:8300",
                "-c",
                "1:linux",
                "-n",
                "2:0:+64K",
                "-t",
                "2:0700",
                "-n",
                "3:0:0",
            ],
            &gpt,
        )?;
        self.save("volumes", "sgdisk", &[&gpt])?;
        let mbr = blank(&dir.join("mbr.img"), 512 * KIB)?;
        run_input(
            Command::new("sfdisk").args(["-q", "--no-reread"]).arg(&mbr),
            "label: dos\n1,100,83\n101,,5\n102,200,83\n303,,7\n",
        )?;
        self.save("volumes", "sfdisk-extended", &[&mbr])?;
        Ok(())
    }

    /// Volumes the layout names: LUKS1 and LUKS2 headers (`cryptsetup luksFormat`, the first
    /// 64 KiB), a swap area (`mkswap`), and as root an LVM2 PV filling a 3 MiB disk with a
    /// linear volume in two segments holding ext4 and a second volume (LVM needs a block
    /// device: a loop device, attached only for the LVM tools).
    fn volume_kinds(&self) -> Result<()> {
        let dir = self.dir("volume-kinds")?;
        let key = dir.join("key");
        fs::write(&key, "seed")?;
        for version in ["luks1", "luks2"] {
            let image = blank(&dir.join(format!("{version}.img")), 20 * MIB)?;
            let mut args = vec!["luksFormat", "-q", "--type", version, "--key-file"];
            args.push(key.to_str().context("a UTF-8 path")?);
            args.extend_from_slice(&["--pbkdf-force-iterations", "1000"]);
            if version == "luks2" {
                args.extend_from_slice(&["--pbkdf", "pbkdf2"]);
            }
            tool("cryptsetup", &args, &image)?;
            let head = dir.join(format!("{version}-head.img"));
            fs::write(&head, &fs::read(&image)?[..(64 * KIB) as usize])?;
            self.save("volumes", version, &[&head])?;
        }
        let swap = blank(&dir.join("swap.img"), 128 * KIB)?;
        tool("mkswap", &[], &swap)?;
        self.save("volumes", "swap", &[&swap])?;
        if !crate::shared::workspace::is_root() {
            println!("fuzz-seeds: no LVM2 seed (loop devices need root)");
            return Ok(());
        }
        let pv = blank(&dir.join("lvm.img"), 3 * MIB)?;
        let loop_device = String::from_utf8(
            run_tool(Command::new("losetup").args(["-f", "--show"]).arg(&pv))?.stdout,
        )?;
        let loop_device = loop_device.trim().to_owned();
        let made = lvm_seed(&dir, &loop_device);
        run_tool(Command::new("losetup").args(["-d", &loop_device]))?;
        made?;
        let fs_image = blank(&dir.join("lvm-ext4.img"), MIB)?;
        let tree = dir.join("lvm-tree");
        write_tree(&tree)?;
        tool(
            "mkfs.ext4",
            &[
                "-q",
                "-F",
                "-b",
                "1024",
                "-d",
                tree.to_str().context("a UTF-8 path")?,
            ],
            &fs_image,
        )?;
        // The volume's first extent is the PV's first (at 64 KiB), 16 of 64 KiB end to end.
        let ext4 = fs::read(&fs_image)?;
        let mut disk = fs::read(&pv)?;
        disk[(64 * KIB) as usize..(64 * KIB + MIB) as usize].copy_from_slice(&ext4);
        fs::write(&pv, disk)?;
        self.save("volumes", "lvm", &[&pv])?;
        Ok(())
    }

    /// ext4 volumes: the start of the sample's ext4 partition, and small images made with
    /// `mkfs.ext4 -d` (extents, inline data, ext2 block maps), with files deleted by debugfs.
    fn ext4(&self) -> Result<()> {
        let dir = self.dir("ext4")?;
        let tree = dir.join("tree");
        write_tree(&tree)?;
        std::os::unix::fs::symlink("a/b/secret.txt", tree.join("link"))?;
        let variants: [(&str, &[&str]); 3] = [
            ("ext4", &["-t", "ext4"]),
            ("ext4-inline", &["-t", "ext4", "-O", "inline_data"]),
            ("ext2", &["-t", "ext2"]),
        ];
        for (name, options) in variants {
            let image = dir.join(format!("{name}.img"));
            let mut cmd = Command::new("mkfs.ext4");
            cmd.args(["-q", "-F", "-b", "1024", "-N", "64", "-E", "root_owner=0:0"])
                .args(options)
                .arg("-d")
                .arg(&tree)
                .arg(&image)
                .arg("512K");
            run_tool(&mut cmd)?;
            run_tool(
                Command::new("debugfs")
                    .args(["-w", "-R", "rm /many/f1"])
                    .arg(&image),
            )?;
            self.save("ext4", name, &[&image])?;
        }
        let sample = workspace::root().join("testdata").join(IMAGE_NAME);
        let mut decoder = zstd::stream::Decoder::new(fs::File::open(&sample)?)?;
        let mut disk = Vec::new();
        std::io::Read::read_to_end(&mut decoder, &mut disk)?;
        // GPT entry 1's first LBA, at byte 32 of the entry array at LBA 2.
        let first_lba = u64::from_le_bytes(disk[1024 + 32..1024 + 40].try_into()?);
        let start = usize::try_from(first_lba * 512)?;
        let head = dir.join("sample-ext4-head.img");
        fs::write(&head, &disk[start..start + MIB as usize])?;
        self.save("ext4", "sample-partition-head", &[&head])?;
        Ok(())
    }

    /// An NTFS volume from mkntfs, filled through ntfs-3g: resident and non-resident files,
    /// a compressed file, a named stream, a deleted file.
    fn ntfs(&self) -> Result<()> {
        let dir = self.dir("ntfs")?;
        let image = blank(&dir.join("ntfs.img"), 2 * MIB)?;
        run_tool(
            Command::new("mkntfs")
                .args(["-F", "-Q", "-q", "-c", "512"])
                .arg(&image),
        )?;
        let mount = dir.join("mnt");
        fs::create_dir_all(&mount)?;
        let mut child = Command::new("ntfs-3g")
            .args(["-o", "no_detach,streams_interface=windows,compression"])
            .arg(&image)
            .arg(&mount)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("running ntfs-3g (is it installed?)")?;
        let filled = fill_ntfs(&mount);
        let unmounted = run_tool(Command::new("umount").arg(&mount));
        child.wait()?;
        filled?;
        unmounted?;
        self.save("ntfs", "mkntfs", &[&image])?;
        Ok(())
    }

    /// qcow2 images of the sample's head: both versions, small and default clusters,
    /// deflate and zstd compressed clusters, extended L2, and a backing chain (`a` over `b`).
    fn qcow2(&self, disk: &Path) -> Result<()> {
        let dir = self.dir("qcow2")?;
        let variants: [(&str, &[&str]); 6] = [
            ("v2", &["-o", "compat=0.10,cluster_size=4096"]),
            ("v3-c512", &["-o", "cluster_size=512"]),
            ("v3-64k", &[]),
            ("deflate", &["-c", "-o", "cluster_size=4096"]),
            (
                "zstd",
                &["-c", "-o", "compression_type=zstd,cluster_size=4096"],
            ),
            ("extended-l2", &["-o", "extended_l2=on,cluster_size=16384"]),
        ];
        for (name, options) in variants {
            let image = dir.join(format!("{name}.qcow2"));
            convert(disk, "qcow2", options, &image)?;
            self.save("qcow2", name, &[&image])?;
        }
        let chain = self.dir("qcow2-chain")?;
        let (a, b) = (chain.join("a"), chain.join("b"));
        convert(disk, "qcow2", &["-o", "cluster_size=4096"], &b)?;
        run_tool(
            Command::new("qemu-img")
                .args(["create", "-q", "-f", "qcow2", "-b", "b", "-F", "qcow2"])
                .args(["-o", "cluster_size=4096"])
                .arg(&a)
                .current_dir(&chain),
        )?;
        run_tool(
            Command::new("qemu-io")
                .args(["-f", "qcow2", "-c", "write -P 0x41 4096 8192"])
                .arg(&a),
        )?;
        self.save("qcow2", "backing-chain", &[&a, &b])?;
        Ok(())
    }

    /// VHDs: fixed and dynamic (qemu-img's `vpc`).
    fn vhd(&self, disk: &Path) -> Result<()> {
        let dir = self.dir("vhd")?;
        for subformat in ["fixed", "dynamic"] {
            let image = dir.join(format!("{subformat}.vhd"));
            let option = format!("subformat={subformat}");
            convert(disk, "vpc", &["-o", &option], &image)?;
            self.save("vhd", subformat, &[&image])?;
        }
        Ok(())
    }

    /// A dynamic VHDX with the smallest blocks and log qemu-img allows.
    fn vhdx(&self, disk: &Path) -> Result<()> {
        let dir = self.dir("vhdx")?;
        let image = dir.join("dynamic.vhdx");
        let options = ["-o", "subformat=dynamic,block_size=1M,log_size=1M"];
        convert(disk, "vhdx", &options, &image)?;
        self.save("vhdx", "dynamic", &[&image])?;
        Ok(())
    }

    /// VMDKs: monolithicSparse, streamOptimized, a descriptor with a sparse extent (`a`
    /// naming `b`), a delta disk (`a` over its parent `b`), and an OVA holding a VMDK.
    fn vmdk(&self, disk: &Path) -> Result<()> {
        let dir = self.dir("vmdk")?;
        for subformat in ["monolithicSparse", "streamOptimized"] {
            let image = dir.join(format!("{subformat}.vmdk"));
            let option = format!("subformat={subformat}");
            convert(disk, "vmdk", &["-o", &option], &image)?;
            self.save("vmdk", subformat, &[&image])?;
        }

        let split = self.dir("vmdk-split")?;
        let descriptor = split.join("d.vmdk");
        convert(
            disk,
            "vmdk",
            &["-o", "subformat=twoGbMaxExtentSparse"],
            &descriptor,
        )?;
        let text = fs::read_to_string(&descriptor)?;
        let extent = split.join("d-s001.vmdk");
        if !text.contains("\"d-s001.vmdk\"") || !extent.exists() {
            bail!("qemu-img wrote an unexpected descriptor:\n{text}");
        }
        fs::write(split.join("a"), text.replace("\"d-s001.vmdk\"", "\"b\""))?;
        self.save(
            "vmdk",
            "descriptor-sparse-extent",
            &[&split.join("a"), &extent],
        )?;

        let delta = self.dir("vmdk-delta")?;
        convert(
            disk,
            "vmdk",
            &["-o", "subformat=monolithicSparse"],
            &delta.join("b"),
        )?;
        run_tool(
            Command::new("qemu-img")
                .args(["create", "-q", "-f", "vmdk", "-b", "b", "-F", "vmdk", "a"])
                .current_dir(&delta),
        )?;
        self.save("vmdk", "delta", &[&delta.join("a"), &delta.join("b")])?;

        let ova = self.dir("ova")?;
        fs::write(ova.join("vm.ovf"), "<Envelope/>\n")?;
        fs::copy(dir.join("streamOptimized.vmdk"), ova.join("disk1.vmdk"))?;
        run_tool(
            Command::new("tar")
                .args(["--format=ustar", "-cf", "vm.ova", "vm.ovf", "disk1.vmdk"])
                .current_dir(&ova),
        )?;
        self.save("vmdk", "ova", &[&ova.join("vm.ova")])?;
        Ok(())
    }

    /// What snapsift-unpack expands, each at the root of its own target: tar (ustar, GNU
    /// long names, pax), zip (stored, deflated, nested), gzip, zstd, xz and bzip2 streams,
    /// with containers nested inside.
    fn archives(&self) -> Result<()> {
        let dir = self.dir("archives")?;
        let tree = dir.join("tree");
        write_tree(&tree)?;
        let long = format!("{}/deep.txt", "long-directory-name".repeat(8));
        fs::create_dir_all(tree.join(&long).parent().context("a parent")?)?;
        fs::write(tree.join(&long), "password = \"generated-1234\"\n")?;
        let in_tree = |args: &[&str]| -> Result<()> {
            run_tool(Command::new(args[0]).args(&args[1..]).current_dir(&tree)).map(|_| ())
        };
        in_tree(&["tar", "--format=ustar", "-cf", "../ustar.tar", "a", "many"])?;
        in_tree(&["tar", "--format=gnu", "-cf", "../gnu.tar", "."])?;
        in_tree(&["tar", "--format=pax", "-cf", "../pax.tar", "."])?;
        in_tree(&["zip", "-q", "-r", "../deflated.zip", "."])?;
        in_tree(&["zip", "-q", "-0", "-r", "../stored.zip", "a"])?;
        // Containers in containers: a zip in a zip, a tar.gz in a zip, a zip in a tar.
        fs::copy(dir.join("stored.zip"), tree.join("inner.zip"))?;
        in_tree(&["sh", "-c", "gzip -c ../ustar.tar > inner.tar.gz"])?;
        in_tree(&["zip", "-q", "../nested.zip", "inner.zip", "inner.tar.gz"])?;
        in_tree(&["tar", "-cf", "../nested.tar", "inner.zip", "inner.tar.gz"])?;
        for (target, name) in [
            ("tar", "ustar.tar"),
            ("tar", "gnu.tar"),
            ("tar", "pax.tar"),
            ("tar", "nested.tar"),
            ("zip", "deflated.zip"),
            ("zip", "stored.zip"),
            ("zip", "nested.zip"),
        ] {
            self.save(target, name, &[&dir.join(name)])?;
        }
        for (target, command) in [
            ("gzip", "gzip -c"),
            ("zstd", "zstd -q -c"),
            ("xz", "xz -c"),
            ("bzip2", "bzip2 -c"),
        ] {
            for input in ["ustar.tar", "tree/a/b/secret.txt", "nested.zip"] {
                let name = format!("{}.{target}", input.replace('/', "-"));
                run_tool(
                    Command::new("sh")
                        .args(["-c", &format!("{command} {input} > {name}")])
                        .current_dir(&dir),
                )?;
                self.save(target, &name, &[&dir.join(&name)])?;
            }
        }
        Ok(())
    }

    /// Raw disks compressed as a whole: the sample's head as `.img.zst` (two frames, as a
    /// parallel compressor writes them) and `.img.gz` (two members).
    fn streams(&self, disk: &Path) -> Result<()> {
        let dir = self.dir("streams")?;
        let disk = disk.display();
        for (name, script) in [
            (
                "two-frames.img.zst",
                format!("(zstd -q -c {disk}; zstd -q -c {disk}) > two-frames.img.zst"),
            ),
            (
                "two-members.img.gz",
                format!("(gzip -c {disk}; gzip -c {disk}) > two-members.img.gz"),
            ),
        ] {
            run_tool(Command::new("sh").args(["-c", &script]).current_dir(&dir))?;
            self.save("stream", name, &[&dir.join(name)])?;
        }
        Ok(())
    }
}

impl Seeds {
    /// The check targets (`check_*`): what each built-in rule's examples match, or their
    /// secret, for the targets of the rule's checks (text as it is); DER keys made by
    /// `openssl` behind `check_der`'s label choice; a key exported by `gpg` as OpenPGP
    /// packets behind `check_pgp`'s flags (a control byte: packets, with their checksum).
    /// `teddy16` has none: its input is a structure random bytes fill as well.
    fn checks(&self) -> Result<()> {
        let rules = snapsift_match::RuleSet::builtin()?;
        let matcher = snapsift_match::Matcher::new(&rules)?;
        let mut scratch = matcher.scratch();
        for (index, rule) in rules.rules().iter().enumerate() {
            for (number, example) in rule.examples.iter().enumerate() {
                let mut found = Vec::new();
                let bytes = example.as_bytes();
                matcher.find_in(bytes, 0..bytes.len(), &mut scratch, &mut found);
                for m in found.iter().filter(|m| m.rule == index) {
                    let text = matcher.text_of(bytes, m);
                    let secret = &text[m.secret_in_text()];
                    for check in &rule.checks {
                        let (target, input) = match check.name() {
                            "pem-key" => ("check_pem", &text[..]),
                            "pgp-private-key" => ("check_pgp", &text[..]),
                            "putty-key" => ("check_putty", &text[..]),
                            "jwt" => ("check_jwt", secret),
                            "base64" | "docker-auth" => ("check_base64", secret),
                            _ => continue,
                        };
                        self.save_bytes(target, &format!("{}-{number}", rule.id), input)?;
                    }
                }
            }
        }
        let dir = self.dir("checks")?;
        // (label index in check_der's list, the openssl command writing the DER to stdout)
        for (name, label, script) in [
            (
                "rsa-pkcs1",
                0u8,
                "openssl genrsa 1024 2>/dev/null | openssl rsa -traditional -outform DER",
            ),
            (
                "ec-sec1",
                1,
                "openssl ecparam -name prime256v1 -genkey -noout -outform DER",
            ),
            (
                "dsa",
                2,
                "openssl dsaparam -genkey 1024 2>/dev/null | openssl dsa -outform DER",
            ),
            (
                "rsa-pkcs8",
                3,
                "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -outform DER",
            ),
            (
                "ed25519-pkcs8",
                3,
                "openssl genpkey -algorithm ed25519 -outform DER",
            ),
            (
                "ed25519-encrypted",
                4,
                "openssl genpkey -algorithm ed25519 | openssl pkcs8 -topk8 -passout pass:seed -outform DER",
            ),
        ] {
            let der = run_tool(Command::new("sh").args(["-c", script]).current_dir(&dir))?;
            self.save_bytes("check_der", name, &[&[label][..], &der.stdout].concat())?;
        }
        let home = dir.join("gnupg");
        fs::create_dir_all(&home)?;
        fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        let gpg = |args: &[&str]| {
            run_tool(
                Command::new("gpg")
                    .arg("--homedir")
                    .arg(&home)
                    .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
                    .args(args),
            )
        };
        let uid = "fuzz seed <seed@snapsift.invalid>";
        gpg(&["--quick-gen-key", uid, "ed25519", "sign", "never"])?;
        let packets = gpg(&["--export-secret-keys", uid])?.stdout;
        self.save_bytes(
            "check_pgp",
            "gpg-ed25519-packets",
            &[&[1u8][..], &packets].concat(),
        )?;
        Ok(())
    }
}

/// The files of the small trees seeds are made of: text with generated secrets, a directory
/// of many small files, a larger file.
fn tree_files() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        (
            "a/b/secret.txt".to_owned(),
            b"aws_access_key_id = AKIAQYLPMN5HGENERATD\n".to_vec(),
        ),
        (
            "a/big.log".to_owned(),
            (0..400)
                .flat_map(|i| format!("{i:05} GET /index.html 200\n").into_bytes())
                .collect(),
        ),
    ];
    for i in 0..24 {
        files.push((format!("many/f{i}"), format!("file {i}\n").into_bytes()));
    }
    files
}

/// Writes [`tree_files`] under `root`.
fn write_tree(root: &Path) -> Result<()> {
    for (path, bytes) in tree_files() {
        let file = root.join(path);
        fs::create_dir_all(file.parent().context("a file in a directory")?)?;
        fs::write(file, bytes)?;
    }
    Ok(())
}

/// Writes files through the ntfs-3g mount at `mount` once it is up.
fn fill_ntfs(mount: &Path) -> Result<()> {
    let started = Instant::now();
    while !is_mounted(mount)? {
        if started.elapsed() > Duration::from_secs(20) {
            bail!("ntfs-3g did not mount {}", display(mount));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    write_tree(mount)?;
    fs::write(mount.join("a/big.log:stream"), b"token=generated\n")?;
    fs::create_dir_all(mount.join("packed"))?;
    // The NTFS compressed attribute on the directory: files made in it are LZNT1-compressed.
    run_tool(
        Command::new("setfattr")
            .args(["-h", "-v", "0x00000800", "-n", "system.ntfs_attrib_be"])
            .arg(mount.join("packed")),
    )?;
    fs::copy(mount.join("a/big.log"), mount.join("packed/big.log"))?;
    fs::remove_file(mount.join("many/f1"))?;
    Ok(())
}

/// Whether `dir` is a mount point now.
fn is_mounted(dir: &Path) -> Result<bool> {
    let dir = dir.to_str().context("a UTF-8 path")?;
    Ok(fs::read_to_string("/proc/mounts")?
        .lines()
        .any(|line| line.split(' ').nth(1) == Some(dir)))
}

/// Creates `path` as `len` zero bytes.
fn blank(path: &Path, len: u64) -> Result<PathBuf> {
    fs::File::create(path)?.set_len(len)?;
    Ok(path.to_owned())
}

/// Writes a volume group on the PV `device` with the LVM tools, without device-mapper and
/// with a configuration in `dir` that sees only that device and keeps no backups.
fn lvm_seed(dir: &Path, device: &str) -> Result<()> {
    run_tool(Command::new("blockdev").args(["--setrw", device]))?;
    let conf = dir.join("lvm-conf");
    fs::create_dir_all(&conf)?;
    let filter = format!("[ \"a|^{device}$|\", \"r|.*|\" ]");
    fs::write(
        conf.join("lvm.conf"),
        format!(
            "devices {{ filter = {filter} global_filter = {filter} use_devicesfile = 0 }}\n\
             backup {{ backup = 0 archive = 0 }}\n\
             global {{ use_lvmlockd = 0 locking_dir = \"{}\" }}\n\
             activation {{ udev_sync = 0 udev_rules = 0 }}\n",
            conf.display()
        ),
    )?;
    let lvm = |args: &[&str]| {
        run_tool(
            Command::new(args[0])
                .args(&args[1..])
                .env("LVM_SYSTEM_DIR", &conf)
                .env("LVM_SUPPRESS_FD_WARNINGS", "1"),
        )
    };
    let create = ["--driverloaded", "n", "-an", "-Zn", "-y"];
    lvm(&[
        "pvcreate",
        "-y",
        "--metadatasize",
        "16k",
        "--dataalignment",
        "64k",
        device,
    ])?;
    lvm(&["vgcreate", "-s", "64k", "seed", device])?;
    lvm(&[
        &["lvcreate"][..],
        &create,
        &["-L", "1M", "-n", "root", "seed"],
    ]
    .concat())?;
    lvm(&[
        &["lvcreate"][..],
        &create,
        &["-L", "256k", "-n", "other", "seed"],
    ]
    .concat())?;
    lvm(&[
        "lvextend",
        "--driverloaded",
        "n",
        "-L",
        "+256k",
        "seed/root",
    ])?;
    Ok(())
}

/// Runs `program args path`.
fn tool(program: &str, args: &[&str], path: &Path) -> Result<()> {
    run_tool(Command::new(program).args(args).arg(path)).map(|_| ())
}

/// Runs `cmd` with `input` on its standard input.
fn run_input(cmd: &mut Command, input: &str) -> Result<()> {
    use std::io::Write;
    let shown = workspace::describe(cmd);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{shown}`"))?;
    child
        .stdin
        .take()
        .context("a piped stdin")?
        .write_all(input.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "`{shown}` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// `qemu-img convert -f raw -O format options raw image`.
fn convert(raw: &Path, format: &str, options: &[&str], image: &Path) -> Result<()> {
    run_tool(
        Command::new("qemu-img")
            .args(["convert", "-f", "raw", "-O", format])
            .args(options)
            .arg(raw)
            .arg(image),
    )
    .map(|_| ())
}
