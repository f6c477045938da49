//! `cargo xtask testdata`: regenerates the sample disk, `testdata/sample-disk.img.zst`, and the
//! list of what is planted in it, `testdata/sample-disk.secrets.json`.
//!
//! The sample is a 32 MiB GPT disk: a 24 MiB ext4 partition at 1 MiB holding a small Linux
//! system with secrets in the places they leak (SSH and AWS credentials, shell history, app
//! configuration, logs), one file deleted so that its secrets survive only in free blocks, and
//! a leftover fragment of an old file in the unpartitioned space after the partition.
//!
//! The output is reproducible byte for byte: secrets and keys come from a seeded generator,
//! and every source of variation in the tools is pinned (UUIDs, GUIDs, hash seed, timestamps,
//! mke2fs defaults, directory order). Regenerating without changing anything gives no diff.
//!
//! Before writing, the image is checked: each secret is on it exactly once, and the rules find
//! exactly the planted secrets with exactly their recorded extents (see [`crate::shared::rules`]).

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use crate::shared::image::{self, Ext4, GptDisk, MIB};
use crate::shared::keys::RsaKey;
use crate::shared::locate;
use crate::shared::rng::Prng;
use crate::shared::rules;
use crate::shared::sample_disk::{IMAGE_NAME, SECRETS_NAME};
use crate::shared::secrets::{self, ALIBABA_KEY_ID, AWS_KEY_ID, CONNECTION_URI, Planted};
use crate::shared::text::{Flavor, TextGen};
use crate::shared::workspace::{self, display, run_tool};

/// Seed of everything generated for the sample. Changing it changes every secret.
const SEED: u64 = 0x5eed_5a4d_0001;
/// The time stamped on every file and on the file system: 2024-03-01T09:30:00Z.
const FAKE_TIME: u64 = 1_709_285_400;
/// Size of the whole disk.
const DISK_SIZE: u64 = 32 * MIB;
/// Where the ext4 partition starts, and its size.
const PARTITION_START: u64 = MIB;
const PARTITION_SIZE: u64 = 24 * MIB;
/// Where the leftover fragment goes: unpartitioned space between the partition's end (25 MiB)
/// and the backup GPT in the last 17 KiB.
const FREE_SPACE_OFFSET: u64 = 28 * MIB;
/// Fixed identifiers, so that the image is reproducible.
const FS_UUID: &str = "5a4d5349-4654-4000-8000-000000000001";
const DISK_GUID: &str = "5A4D5349-4654-4000-8000-000000000002";
const PARTITION_GUID: &str = "5A4D5349-4654-4000-8000-000000000003";
/// The file deleted after the file system is built.
const DELETED_FILE: &str = "/tmp/restore-db.sh";
/// The deployment user's uid and gid.
const DEPLOY_ID: u32 = 1000;

/// Builds the sample disk and writes it and its secrets list to testdata/. With `keep`, leaves
/// the work directory (testdata/work/, ignored by git) for inspection.
pub fn run(keep: bool) -> Result<()> {
    let testdata = workspace::root().join("testdata");
    let work = testdata.join("work");
    if work.exists() {
        fs::remove_dir_all(&work)?;
    }
    fs::create_dir_all(&work)?;

    let mut rng = Prng::new(SEED);
    let mut tree = Tree::new(work.join("tree"))?;
    let mut planted = Vec::new();
    println!("generating the file tree");
    populate(&mut tree, &mut rng, &mut planted)?;
    check_keys(&tree.root)?;
    let fragment = free_space_fragment(&mut rng, &mut planted);

    println!("building the ext4 file system and the disk");
    let fs_image = work.join("fs.img");
    Ext4 {
        label: "sample-root",
        uuid: FS_UUID,
        size: PARTITION_SIZE,
        fake_time: Some(FAKE_TIME),
    }
    .make(&fs_image, &tree.root)?;
    // mke2fs copies atime and ctime from the tree (ctime cannot be set on the host, and
    // reading the files moves atime): stamp every inode with the fixed time, then delete.
    let mut commands: Vec<String> = Vec::new();
    for path in &tree.paths {
        for field in ["atime", "ctime", "mtime", "crtime"] {
            commands.push(format!("set_inode_field {path} {field} @{FAKE_TIME}"));
        }
    }
    commands.push(format!("rm {DELETED_FILE}"));
    image::debugfs(&fs_image, &commands, Some(FAKE_TIME))?;

    let disk = work.join("sample-disk.img");
    GptDisk {
        size: DISK_SIZE,
        disk_guid: DISK_GUID,
        partition_guid: PARTITION_GUID,
        partition_name: "sample-root",
        partition_start: PARTITION_START,
        partition_size: PARTITION_SIZE,
    }
    .make(&disk)?;
    image::dd_into(&fs_image, &disk, PARTITION_START)?;
    let fragment_file = work.join("free-space.bin");
    fs::write(&fragment_file, &fragment)?;
    image::dd_into(&fragment_file, &disk, FREE_SPACE_OFFSET)?;

    println!("checking the planted secrets");
    verify(&disk, &mut planted)?;

    let image_out = testdata.join(IMAGE_NAME);
    compress(&disk, &image_out)?;
    let secrets_out = testdata.join(SECRETS_NAME);
    fs::write(&secrets_out, serde_json::to_string_pretty(&planted)? + "\n")?;
    if keep {
        println!("kept the work directory {}", display(&work));
    } else {
        fs::remove_dir_all(&work)?;
    }
    println!(
        "wrote {} ({}) and {} ({} secrets)",
        display(&image_out),
        workspace::bytes(fs::metadata(&image_out)?.len()),
        display(&secrets_out),
        planted.len()
    );
    Ok(())
}

/// Writes the sample system's files, recording each planted secret in `planted`.
fn populate(tree: &mut Tree, rng: &mut Prng, planted: &mut Vec<Planted>) -> Result<()> {
    tree.dir("/root", 0o700)?;
    tree.dir("/tmp", 0o1777)?;
    tree.file("/etc/hostname", "web-1\n", 0o644)?;
    tree.file("/etc/hosts", HOSTS, 0o644)?;
    tree.file("/etc/os-release", OS_RELEASE, 0o644)?;
    tree.file("/etc/passwd", PASSWD, 0o644)?;
    tree.file("/etc/group", GROUP, 0o644)?;
    let fstab = format!(
        "# <file system> <mount point> <type> <options> <dump> <pass>\nUUID={FS_UUID} / ext4 errors=remount-ro 0 1\n"
    );
    tree.file("/etc/fstab", fstab, 0o644)?;
    tree.file("/etc/ssh/sshd_config", SSHD_CONFIG, 0o644)?;

    // AWS CLI credentials of root.
    let key_id = secrets::aws_key_id(rng, "AKIA");
    let secret_key = secrets::aws_secret_key(rng);
    tree.file(
        "/root/.aws/credentials",
        format!("[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret_key}\n"),
        0o600,
    )?;
    tree.file(
        "/root/.aws/config",
        "[default]\nregion = eu-west-1\noutput = json\n",
        0o600,
    )?;
    planted.push(Planted::new(
        "AWS access key ID, default profile of the AWS CLI",
        AWS_KEY_ID,
        key_id,
        "/root/.aws/credentials",
    ));

    // root's SSH key, as `ssh-keygen` wrote it for years: RSA 3072 in OpenSSH's format.
    let ssh_key = RsaKey::generate(rng, 3072);
    let check = rng.u64() as u32;
    let private = ssh_key.openssh_pem("root@web-1", check);
    tree.file("/root/.ssh/id_rsa", &private, 0o600)?;
    tree.file(
        "/root/.ssh/id_rsa.pub",
        ssh_key.openssh_public("root@web-1") + "\n",
        0o644,
    )?;
    let mut known_hosts = String::new();
    for host in ["github.com", "db-primary.internal", "10.0.3.17"] {
        known_hosts.push_str(&format!(
            "{host} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{}\n",
            rng.chars(crate::shared::rng::BASE64, 43)
        ));
    }
    tree.file("/root/.ssh/known_hosts", known_hosts, 0o644)?;
    planted.push(Planted::new(
        "SSH private key of root (RSA, OpenSSH format)",
        "private-key.openssh",
        pem_block(&private),
        "/root/.ssh/id_rsa",
    ));

    // The web server's TLS key, PKCS#1.
    let tls_key = RsaKey::generate(rng, 2048).pkcs1_pem();
    tree.file("/etc/ssl/private/web-1.key", &tls_key, 0o600)?;
    planted.push(Planted::new(
        "TLS private key of the web server (RSA, PKCS#1)",
        "private-key.rsa",
        pem_block(&tls_key),
        "/etc/ssl/private/web-1.key",
    ));

    // The app's JWT signing key, PKCS#8.
    let jwt_key = RsaKey::generate(rng, 2048).pkcs8_pem();
    tree.file("/opt/app/keys/jwt-signing.pem", &jwt_key, 0o600)?;
    planted.push(Planted::new(
        "JWT signing key of the app (RSA, PKCS#8)",
        "private-key.pkcs8",
        pem_block(&jwt_key),
        "/opt/app/keys/jwt-signing.pem",
    ));

    // App configuration: a PostgreSQL URI with a password, next to one without.
    let pg = format!(
        "postgres://orders:{}@db-primary.internal:5432/orders?sslmode=require",
        secrets::password(rng)
    );
    tree.file("/etc/app/config.yaml", format!(
        "# orders service\nserver:\n  listen: 0.0.0.0:8080\n  public_url: https://shop.example.com\n\
         database:\n  url: {pg}\n  replica_url: postgres://orders_ro@db-replica.internal:5432/orders\n  pool_size: 20\n\
         cache:\n  url: redis://cache-01.internal:6379/0\nlogging:\n  level: info\n  format: json\n"
    ), 0o640)?;
    planted.push(Planted::new(
        "PostgreSQL URI with password in the app's YAML config",
        CONNECTION_URI,
        pg,
        "/etc/app/config.yaml",
    ));

    // Spring Boot configuration with a JDBC URI.
    let jdbc = format!(
        "jdbc:mysql://orders:{}@mysql-01.internal:3306/orders?useSSL=true&serverTimezone=UTC",
        secrets::password(rng)
    );
    tree.file("/opt/app/application.properties", format!(
        "spring.application.name=orders\nserver.port=8080\nspring.datasource.url={jdbc}\n\
         spring.datasource.hikari.maximum-pool-size=10\nspring.data.redis.url=redis://cache-01.internal:6379\n\
         management.endpoints.web.exposure.include=health,info\n"
    ), 0o640)?;
    planted.push(Planted::new(
        "MySQL JDBC URI with password in a Spring Boot config",
        CONNECTION_URI,
        jdbc,
        "/opt/app/application.properties",
    ));

    // The deploy user's shell history: an Alibaba key exported, a redis URI on a command line.
    let ali = secrets::alibaba_key_id(rng, 24);
    let ali_secret = secrets::alibaba_secret(rng);
    let redis = format!(
        "redis://default:{}@cache-01.internal:6379/0",
        secrets::password(rng)
    );
    let history = format!(
        "cd /opt/app\ngit pull --ff-only\nsudo systemctl restart orders\njournalctl -u orders -n 50\n\
         export ALIBABA_CLOUD_ACCESS_KEY_ID={ali}\nexport ALIBABA_CLOUD_ACCESS_KEY_SECRET={ali_secret}\n\
         aliyun oss ls oss://orders-assets/\nredis-cli -u {redis} ping\n\
         curl -s https://shop.example.com/health\nhtop\nexit\n"
    );
    tree.dir("/home/deploy", 0o750)?;
    tree.file("/home/deploy/.bash_history", history, 0o600)?;
    tree.file("/home/deploy/.profile", PROFILE, 0o644)?;
    tree.chown("/home/deploy", DEPLOY_ID)?;
    tree.chown("/home/deploy/.bash_history", DEPLOY_ID)?;
    tree.chown("/home/deploy/.profile", DEPLOY_ID)?;
    planted.push(Planted::new(
        "Alibaba Cloud AccessKey ID exported in shell history",
        ALIBABA_KEY_ID,
        ali,
        "/home/deploy/.bash_history",
    ));
    planted.push(Planted::new(
        "Redis URI with password on a redis-cli command line",
        CONNECTION_URI,
        redis,
        "/home/deploy/.bash_history",
    ));

    // Logs, a few hundred KiB; syslog has one leaked broker URI.
    let mut log = TextGen::new(Prng::stream(SEED, 1), "web-1");
    let mut access = Vec::new();
    log.fill(&mut access, Flavor::Access, 180 << 10);
    tree.file("/var/log/nginx/access.log", &access, 0o640)?;
    let mut json = Vec::new();
    log.fill(&mut json, Flavor::Json, 100 << 10);
    tree.file("/var/log/app/orders.log", &json, 0o640)?;
    let amqp = Planted::new(
        "AMQP URI with password logged by a migration job",
        CONNECTION_URI,
        format!(
            "amqps://publisher:{}@mq-01.internal:5671/prod",
            secrets::password(rng)
        ),
        "/var/log/syslog",
    );
    let mut syslog = Vec::new();
    log.fill(&mut syslog, Flavor::Syslog, 40 << 10);
    log.secret_line(&mut syslog, &amqp);
    log.fill(&mut syslog, Flavor::Syslog, 60 << 10);
    tree.file("/var/log/syslog", &syslog, 0o640)?;
    planted.push(amqp);

    // A one-off script with temporary AWS credentials and a MongoDB URI, deleted after the
    // file system is built: its blocks are free but still hold it.
    let asia = secrets::aws_key_id(rng, "ASIA");
    let mongo = format!(
        "mongodb+srv://restore:{}@cluster0.{}.mongodb.net/orders?retryWrites=true",
        secrets::password(rng),
        rng.chars(crate::shared::rng::LOWER, 5)
    );
    let mut session_token = Vec::new();
    rng.push_chars(&mut session_token, crate::shared::rng::BASE64, 356);
    let script = format!(
        "#!/bin/sh\n# one-off restore of the orders database from last night's dump\nset -eu\n\
         export AWS_ACCESS_KEY_ID={asia}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_SESSION_TOKEN={}\n\
         aws s3 cp s3://orders-backups/nightly/orders-2024-02-29.archive /tmp/orders.archive\n\
         mongorestore --uri=\"{mongo}\" --archive=/tmp/orders.archive --drop\nrm -f /tmp/orders.archive\n",
        secrets::aws_secret_key(rng),
        String::from_utf8(session_token)?,
    );
    tree.file(DELETED_FILE, script, 0o700)?;
    let deleted = format!("deleted: {DELETED_FILE}");
    planted.push(Planted::new(
        "temporary AWS access key ID in a deleted script",
        AWS_KEY_ID,
        asia,
        &deleted,
    ));
    planted.push(Planted::new(
        "MongoDB URI with password in a deleted script",
        CONNECTION_URI,
        mongo,
        &deleted,
    ));
    Ok(())
}

/// The leftover of an old `.env` file in unpartitioned space, holding an old-style (16
/// character) Alibaba key ID.
fn free_space_fragment(rng: &mut Prng, planted: &mut Vec<Planted>) -> Vec<u8> {
    let key = secrets::alibaba_key_id(rng, 16);
    let fragment = format!(
        "NODE_ENV=staging\nPORT=3000\nALIBABA_CLOUD_ACCESS_KEY_ID={key}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={}\nOSS_BUCKET=staging-uploads\n",
        secrets::alibaba_secret(rng)
    );
    planted.push(Planted::new(
        "old-style Alibaba Cloud AccessKey ID in a leftover .env fragment",
        ALIBABA_KEY_ID,
        key,
        "free space",
    ));
    // The fragment starts mid-line, as a leftover block would.
    format!("ge_limit=50\n{fragment}").into_bytes()
}

/// The PEM block of a key file as the rules match it: without the final newline.
fn pem_block(file: &str) -> String {
    file.trim_end_matches('\n').to_string()
}

/// Checks that the generated keys are real keys, with the tools that use them.
fn check_keys(tree: &Path) -> Result<()> {
    for key in ["etc/ssl/private/web-1.key", "opt/app/keys/jwt-signing.pem"] {
        run_tool(
            Command::new("openssl")
                .args(["rsa", "-check", "-noout", "-in"])
                .arg(tree.join(key)),
        )
        .with_context(|| format!("openssl rejects the generated key {key}"))?;
    }
    let derived = run_tool(
        Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(tree.join("root/.ssh/id_rsa")),
    )
    .context("ssh-keygen rejects the generated key /root/.ssh/id_rsa")?;
    let expected = fs::read_to_string(tree.join("root/.ssh/id_rsa.pub"))?;
    let first_two = |s: &str| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    ensure!(
        first_two(&String::from_utf8_lossy(&derived.stdout)) == first_two(&expected),
        "ssh-keygen derives another public key from /root/.ssh/id_rsa"
    );
    Ok(())
}

/// Locates every planted secret on `disk` (filling in its offset) and checks the image against
/// the rules: each secret exactly once, and no rule match that is not a planted secret.
fn verify(disk: &Path, planted: &mut [Planted]) -> Result<()> {
    let needles: Vec<&[u8]> = planted.iter().map(|p| p.secret.as_bytes()).collect();
    let found = locate::find_all(disk, &needles)?;
    for (p, offsets) in planted.iter_mut().zip(&found) {
        match offsets.as_slice() {
            [offset] => p.offset = Some(*offset),
            _ => bail!(
                "{} ({}) is on the disk {} times, not once",
                p.label,
                p.secret,
                offsets.len()
            ),
        }
    }
    let bytes = fs::read(disk)?;
    let mut expected: Vec<(String, u64, u64)> = planted
        .iter()
        .map(|p| (p.rule.clone(), p.offset.unwrap_or(0), p.secret.len() as u64))
        .collect();
    let mut actual: Vec<(String, u64, u64)> = rules::find_all(&bytes)
        .into_iter()
        .map(|m| {
            (
                m.rule.to_string(),
                m.range.start as u64,
                m.range.len() as u64,
            )
        })
        .collect();
    expected.sort();
    actual.sort();
    if expected != actual {
        let show = |v: &[(String, u64, u64)], other: &[(String, u64, u64)]| {
            v.iter()
                .filter(|m| !other.contains(m))
                .map(|(rule, at, len)| {
                    let text = &bytes[*at as usize..(*at + *len) as usize];
                    format!(
                        "  {rule} at {at}: {}",
                        String::from_utf8_lossy(&text[..text.len().min(80)])
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        bail!(
            "the rules do not find exactly the planted secrets\nplanted but not matched so:\n{}\nmatched but not planted so:\n{}",
            show(&expected, &actual),
            show(&actual, &expected)
        );
    }
    Ok(())
}

/// Compresses `disk` into `out` with zstd level 19, via a temporary file so that an
/// interrupted run never leaves a truncated image behind.
fn compress(disk: &Path, out: &Path) -> Result<()> {
    let tmp = out.with_extension("zst.tmp");
    let mut encoder = zstd::stream::Encoder::new(File::create(&tmp)?, 19)?;
    encoder.include_checksum(true)?;
    encoder.set_pledged_src_size(Some(fs::metadata(disk)?.len()))?;
    io::copy(&mut File::open(disk)?, &mut encoder)?;
    encoder.finish()?.flush()?;
    fs::rename(&tmp, out)?;
    Ok(())
}

/// A directory tree being written for `mkfs.ext4 -d`, with every path recorded and every
/// mode set explicitly (the umask must not leak into the image).
struct Tree {
    root: PathBuf,
    /// Absolute paths inside the tree ("/", "/etc", "/etc/passwd", ...), directories first.
    paths: Vec<String>,
}

impl Tree {
    fn new(root: PathBuf) -> Result<Tree> {
        fs::create_dir_all(&root)?;
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))?;
        Ok(Tree {
            root,
            paths: vec!["/".to_string()],
        })
    }

    fn host_path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Creates directory `path` with `mode`, and any missing parent with mode 0755.
    fn dir(&mut self, path: &str, mode: u32) -> Result<()> {
        let host = self.host_path(path);
        if !host.exists() {
            if let Some((parent, _)) = path.rsplit_once('/').filter(|(p, _)| !p.is_empty()) {
                self.dir(parent, 0o755)?;
            }
            fs::create_dir(&host)?;
            self.paths.push(path.to_string());
        }
        fs::set_permissions(&host, fs::Permissions::from_mode(mode))?;
        Ok(())
    }

    /// Writes file `path` with `mode`, creating missing parents.
    fn file(&mut self, path: &str, contents: impl AsRef<[u8]>, mode: u32) -> Result<()> {
        // debugfs commands take the path unquoted.
        ensure!(
            !path.contains(char::is_whitespace),
            "{path}: no spaces, please"
        );
        if let Some((parent, _)) = path.rsplit_once('/').filter(|(p, _)| !p.is_empty())
            && !self.host_path(parent).exists()
        {
            self.dir(parent, 0o755)?;
        }
        let host = self.host_path(path);
        fs::write(&host, contents)?;
        fs::set_permissions(&host, fs::Permissions::from_mode(mode))?;
        self.paths.push(path.to_string());
        Ok(())
    }

    /// Gives `path` to user and group `id`.
    fn chown(&self, path: &str, id: u32) -> Result<()> {
        chown(self.host_path(path), Some(id), Some(id)).with_context(|| format!("chown {path}"))
    }
}

const HOSTS: &str = "127.0.0.1\tlocalhost\n127.0.1.1\tweb-1\n10.0.3.20\tdb-primary.internal\n10.0.3.21\tdb-replica.internal\n10.0.3.30\tcache-01.internal\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\nSUPPORT_URL=\"https://www.debian.org/support\"\nBUG_REPORT_URL=\"https://bugs.debian.org/\"\n";

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nbin:x:2:2:bin:/bin:/usr/sbin/nologin\nsys:x:3:3:sys:/dev:/usr/sbin/nologin\nsync:x:4:65534:sync:/bin:/bin/sync\nman:x:6:12:man:/var/cache/man:/usr/sbin/nologin\nlp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin\nmail:x:8:8:mail:/var/mail:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nbackup:x:34:34:backup:/var/backups:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nsystemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin\nmessagebus:x:100:107::/nonexistent:/usr/sbin/nologin\nsshd:x:101:65534::/run/sshd:/usr/sbin/nologin\ndeploy:x:1000:1000:Deploy,,,:/home/deploy:/bin/bash\napp:x:999:999:orders service:/opt/app:/usr/sbin/nologin\n";

const GROUP: &str = "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:deploy\nwww-data:x:33:\nbackup:x:34:\nsudo:x:27:deploy\nnogroup:x:65534:\nsystemd-network:x:998:\nmessagebus:x:107:\ndeploy:x:1000:\napp:x:999:\n";

const SSHD_CONFIG: &str = "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding no\nPrintMotd no\nAcceptEnv LANG LC_*\nSubsystem\tsftp\t/usr/lib/openssh/sftp-server\n";

const PROFILE: &str = "# ~/.profile: executed by the command interpreter for login shells.\nif [ -n \"$BASH_VERSION\" ]; then\n    if [ -f \"$HOME/.bashrc\" ]; then\n\t. \"$HOME/.bashrc\"\n    fi\nfi\nif [ -d \"$HOME/bin\" ] ; then\n    PATH=\"$HOME/bin:$PATH\"\nfi\n";
