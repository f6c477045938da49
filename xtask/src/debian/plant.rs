//! The tree of secrets planted in the Debian root filesystem: each secret generated, written
//! where such secrets leak, and recorded with the path and state snapsift must report.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::shared::keys::RsaKey;
use crate::shared::rng::Prng;
use crate::shared::secrets;
use crate::shared::workspace::run_tool;

/// One secret planted in the tree.
pub(super) struct Plant {
    pub(super) rule: &'static str,
    pub(super) secret: String,
    /// The path snapsift must report: the file, then `!/member` for each archive member.
    pub(super) path: String,
    /// The state snapsift must report.
    pub(super) state: &'static str,
    /// For an ID whose secret half sits next to it: the half snapsift must pair with it.
    pub(super) pair: Option<Half>,
}

/// The secret half of a paired credential.
pub(super) struct Half {
    /// The id of the rule that finds it.
    pub(super) rule: &'static str,
    pub(super) secret: String,
}

/// The rule that finds an Alibaba Cloud AccessKey secret, the half paired with its ID.
pub(super) const ALIBABA_SECRET: &str = "alibaba.access-key-secret";
/// The rule that finds an AWS secret access key, the half paired with its access key ID.
pub(super) const AWS_SECRET: &str = "aws.secret-access-key";

/// Plants the tree of secrets into `root`.
pub(super) fn plant_tree(root: &Path) -> Result<Vec<Plant>> {
    let mut rng = Prng::new(0xdeb1);
    let mut plants = Vec::new();
    let put = |path: &str, bytes: &[u8]| -> Result<PathBuf> {
        let host = root.join(path.trim_start_matches('/'));
        write_file(&host, bytes)?;
        Ok(host)
    };
    let plain = |rule, secret: String, path: &str| Plant {
        rule,
        secret,
        path: path.into(),
        state: "allocated",
        pair: None,
    };

    // Plain files the sweep reads as they are.
    let key = RsaKey::generate(&mut rng, 2048).pkcs1_pem();
    put("/root/.ssh/id_rsa", key.as_bytes())?;
    plants.push(plain(
        "private-key.rsa",
        key.trim_end().into(),
        "/root/.ssh/id_rsa",
    ));
    // A credential whose halves snapsift reports as one finding of the ID's rule.
    let aws = secrets::aws_key_id(&mut rng, "AKIA");
    let aws_secret = secrets::aws_secret_key(&mut rng);
    put(
        "/root/.aws/credentials",
        format!(
            "[default]\naws_access_key_id = {aws}\naws_secret_access_key = {aws_secret}\n\
             region = eu-central-1\n"
        )
        .as_bytes(),
    )?;
    plants.push(Plant {
        pair: Some(Half {
            rule: AWS_SECRET,
            secret: aws_secret,
        }),
        ..plain("aws.access-key-id", aws, "/root/.aws/credentials")
    });
    let ltai = secrets::alibaba_key_id(&mut rng, 24);
    put(
        "/home/deploy/.bash_history",
        format!("ls\nexport ALIBABA_CLOUD_ACCESS_KEY_ID={ltai}\naliyun ecs DescribeInstances\n")
            .as_bytes(),
    )?;
    plants.push(plain(
        "alibaba.access-key-id",
        ltai,
        "/home/deploy/.bash_history",
    ));
    let uri = secrets::connection_uri(&mut rng);
    put(
        "/etc/app/config.yaml",
        format!("db:\n  url: {uri}\n").as_bytes(),
    )?;
    plants.push(plain(
        "connection-uri.password",
        uri,
        "/etc/app/config.yaml",
    ));

    // Only the file pass reads these.
    let log_key = secrets::aws_key_id(&mut rng, "AKIA");
    let log = log_text(&mut rng, &format!("using access key {log_key}"));
    let host = put("/var/log/app/app.log.2", &log)?;
    run_tool(Command::new("gzip").arg("-9").arg(&host))?;
    plants.push(plain(
        "aws.access-key-id",
        log_key,
        "/var/log/app/app.log.2.gz",
    ));

    let jar_key = secrets::alibaba_key_id(&mut rng, 24);
    let work = root.join("tmp/.plant-work");
    write_file(
        &work.join("jar/BOOT-INF/classes/application.properties"),
        &log_text(&mut rng, &format!("aliyun.access-key-id={jar_key}")),
    )?;
    fs::create_dir_all(root.join("opt/billing"))?;
    run_tool(
        Command::new("zip")
            .arg("-qr")
            .arg(root.join("opt/billing/billing.jar"))
            .arg("BOOT-INF")
            .current_dir(work.join("jar")),
    )?;
    plants.push(plain(
        "alibaba.access-key-id",
        jar_key,
        "/opt/billing/billing.jar!/BOOT-INF/classes/application.properties",
    ));

    let history_key = secrets::aws_key_id(&mut rng, "AKIA");
    write_file(
        &work.join("home/ops/.bash_history"),
        &log_text(&mut rng, &format!("export AWS_ACCESS_KEY_ID={history_key}")),
    )?;
    fs::create_dir_all(root.join("var/backups"))?;
    run_tool(
        Command::new("tar")
            .arg("czf")
            .arg(root.join("var/backups/home.tar.gz"))
            .arg("home")
            .current_dir(&work),
    )?;
    plants.push(plain(
        "aws.access-key-id",
        history_key,
        "/var/backups/home.tar.gz!/home/ops/.bash_history",
    ));

    let dump_uri = secrets::connection_uri(&mut rng);
    let host = put(
        "/var/backups/db.sql",
        &log_text(&mut rng, &format!("-- source: {dump_uri}")),
    )?;
    run_tool(Command::new("xz").arg(&host))?;
    plants.push(plain(
        "connection-uri.password",
        dump_uri,
        "/var/backups/db.sql.xz",
    ));

    let ps_key = secrets::aws_key_id(&mut rng, "AKIA");
    let ps =
        format!("\u{feff}Get-ChildItem\r\n$env:AWS_ACCESS_KEY_ID = \"{ps_key}\"\r\naws s3 ls\r\n");
    let utf16: Vec<u8> = ps.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let ps_path = "/srv/win/Users/admin/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt";
    put(ps_path, &utf16)?;
    plants.push(plain("aws.access-key-id", ps_key, ps_path));

    let deleted_key = secrets::alibaba_key_id(&mut rng, 24);
    put(
        "/tmp/deploy.sh",
        format!("#!/bin/sh\nexport ALIBABA_CLOUD_ACCESS_KEY_ID={deleted_key}\n").as_bytes(),
    )?;
    plants.push(Plant {
        rule: "alibaba.access-key-id",
        secret: deleted_key,
        path: "/tmp/deploy.sh".into(),
        state: "deleted",
        pair: None,
    });

    // The aliyun CLI's profile file, as `aliyun configure` writes it: another paired credential.
    let aliyun_id = secrets::alibaba_key_id(&mut rng, 24);
    let aliyun_secret = secrets::alibaba_secret(&mut rng);
    put(
        "/root/.aliyun/config.json",
        aliyun_config(&aliyun_id, &aliyun_secret).as_bytes(),
    )?;
    plants.push(Plant {
        pair: Some(Half {
            rule: ALIBABA_SECRET,
            secret: aliyun_secret,
        }),
        ..plain(
            "alibaba.access-key-id",
            aliyun_id,
            "/root/.aliyun/config.json",
        )
    });

    fs::remove_dir_all(&work)?;
    Ok(plants)
}

/// `~/.aliyun/config.json` with one AccessKey profile, laid out as the aliyun CLI writes it
/// (Go's `json.MarshalIndent` with tabs).
pub(super) fn aliyun_config(id: &str, secret: &str) -> String {
    format!(
        r#"{{
	"current": "default",
	"profiles": [
		{{
			"name": "default",
			"mode": "AK",
			"access_key_id": "{id}",
			"access_key_secret": "{secret}",
			"sts_token": "",
			"ram_role_name": "",
			"ram_role_arn": "",
			"ram_session_name": "",
			"private_key": "",
			"key_pair_name": "",
			"expired_seconds": 0,
			"verified": "",
			"region_id": "cn-hangzhou",
			"output_format": "json",
			"language": "en",
			"site": "",
			"retry_timeout": 0,
			"connect_timeout": 0,
			"retry_count": 0,
			"process_command": ""
		}}
	],
	"meta_path": ""
}}
"#
    )
}

/// Writes `bytes` to `path`, creating its directories.
pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, bytes)?;
    Ok(())
}

/// About 200 KiB of log lines (compressible, as real logs are) with `secret_line` among them.
pub(super) fn log_text(rng: &mut Prng, secret_line: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let at = rng.range(500, 1500);
    for i in 0..2000u64 {
        if i == at {
            out.extend_from_slice(secret_line.as_bytes());
            out.push(b'\n');
        }
        let request = rng.below(100_000);
        out.extend_from_slice(
            format!(
                "2026-11-23T10:{:02}:{:02}Z INFO request {request} served in {} ms\n",
                i / 60 % 60,
                i % 60,
                rng.below(900)
            )
            .as_bytes(),
        );
    }
    out
}
