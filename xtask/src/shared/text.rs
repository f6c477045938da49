//! Plausible log text: what most of a real disk's text looks like to a secret scanner.
//!
//! Web access logs, JSON application logs and syslog, full of the things that make scanning
//! hard: URLs with query strings, IP addresses, timestamps, base64 tokens, and the words the
//! rules anchor on (postgres, mysql, redis, BEGIN, KEY) in contexts that are not secrets, such
//! as URIs without a password. Secret lines are written by [`TextGen::secret_line`], in the
//! contexts where leaks happen (debug dumps of the environment, connection logs).

use std::io::Write;

use crate::shared::rng::Prng;
use crate::shared::secrets::{self, Planted};

/// What a text file mostly contains.
#[derive(Clone, Copy, Debug)]
pub enum Flavor {
    /// An nginx access log (combined format).
    Access,
    /// An application's JSON lines.
    Json,
    /// syslog: daemons, the kernel, the app's plain-text messages.
    Syslog,
}

impl Flavor {
    /// Every flavor, for choosing one at random.
    pub const ALL: [Flavor; 3] = [Flavor::Access, Flavor::Json, Flavor::Syslog];
}

/// Generates log lines from a seeded generator and a running clock.
pub struct TextGen {
    rng: Prng,
    /// Seconds since the Unix epoch of the next line.
    clock: u64,
    /// The host name syslog lines carry.
    host: String,
}

/// 2024-03-01T00:00:00Z: logs start here and move forward a second or two a line.
const LOG_START: u64 = 1_709_251_200;

impl TextGen {
    /// A generator drawing from `rng`; `host` names the machine in syslog lines.
    pub fn new(mut rng: Prng, host: &str) -> TextGen {
        let clock = LOG_START + rng.below(60 * 86_400);
        TextGen {
            rng,
            clock,
            host: host.to_string(),
        }
    }

    /// Appends lines of `flavor` (with a sprinkling of the other kinds) until `out` holds at
    /// least `len` bytes.
    pub fn fill(&mut self, out: &mut Vec<u8>, flavor: Flavor, len: usize) {
        while out.len() < len {
            self.line(out, flavor);
        }
    }

    /// Appends one line, usually of `flavor`.
    pub fn line(&mut self, out: &mut Vec<u8>, flavor: Flavor) {
        self.clock += self.rng.below(3);
        let roll = self.rng.below(100);
        // 4% of lines mention postgres/mysql/redis/BEGIN/KEY without holding a secret, in
        // every flavor: these are the false anchors a scanner must check and reject.
        match (flavor, roll) {
            (_, 0..4) => self.near_miss_line(out),
            (Flavor::Access, 4..90) | (Flavor::Json | Flavor::Syslog, 4..10) => {
                self.access_line(out)
            }
            (Flavor::Json, _) | (Flavor::Access | Flavor::Syslog, 90..95) => self.json_line(out),
            _ => self.syslog_line(out),
        }
    }

    /// An nginx "combined" access log line.
    fn access_line(&mut self, out: &mut Vec<u8>) {
        const METHODS: [&str; 4] = ["GET", "GET", "POST", "PUT"];
        const STATUS: [u16; 8] = [200, 200, 200, 200, 304, 301, 404, 500];
        const AGENTS: [&str; 5] = [
            "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
            "curl/7.88.1",
            "Prometheus/2.45.0",
        ];
        self.ip(out);
        out.extend_from_slice(b" - - [");
        self.clf_time(out);
        let method = METHODS[self.rng.index(METHODS.len())];
        let _ = write!(out, "] \"{method} ");
        self.path_and_query(out);
        let status = STATUS[self.rng.index(STATUS.len())];
        let size = self.rng.below(90_000);
        let _ = write!(out, " HTTP/1.1\" {status} {size} \"");
        self.url(out);
        let agent = AGENTS[self.rng.index(AGENTS.len())];
        let _ = writeln!(out, "\" \"{agent}\"");
    }

    /// A JSON log line of a web service.
    fn json_line(&mut self, out: &mut Vec<u8>) {
        const LEVELS: [&str; 5] = ["info", "info", "info", "warn", "debug"];
        const SERVICES: [&str; 4] = ["orders", "checkout", "auth", "search"];
        const MESSAGES: [&str; 5] = [
            "request completed",
            "upstream call",
            "cache miss",
            "token refreshed",
            "rate limit applied",
        ];
        out.extend_from_slice(b"{\"ts\":\"");
        self.iso_time(out);
        let level = LEVELS[self.rng.index(LEVELS.len())];
        let service = SERVICES[self.rng.index(SERVICES.len())];
        let msg = MESSAGES[self.rng.index(MESSAGES.len())];
        let _ = write!(
            out,
            "\",\"level\":\"{level}\",\"service\":\"{service}\",\"msg\":\"{msg}\",\"url\":\""
        );
        self.url(out);
        let status = [200, 201, 204, 400, 401, 503][self.rng.index(6)];
        let ms = self.rng.below(2_000);
        let trace = secrets::hex(&mut self.rng, 32);
        let _ = write!(
            out,
            "\",\"status\":{status},\"duration_ms\":{ms},\"trace_id\":\"{trace}\",\"client_ip\":\""
        );
        self.ip(out);
        out.extend_from_slice(b"\",\"session\":\"");
        secrets::push_token(&mut self.rng, out);
        out.extend_from_slice(b"\"}\n");
    }

    /// A syslog line from one of the usual daemons.
    fn syslog_line(&mut self, out: &mut Vec<u8>) {
        self.syslog_prefix(out);
        match self.rng.below(8) {
            0 => {
                let _ = write!(
                    out,
                    "sshd[{}]: Accepted publickey for deploy from ",
                    self.pid()
                );
                self.ip(out);
                let port = self.rng.range(30_000, 60_999);
                let fp = self.rng.chars(crate::shared::rng::BASE64, 43);
                let _ = writeln!(out, " port {port} ssh2: ED25519 SHA256:{fp}");
            }
            1 => {
                let _ = writeln!(
                    out,
                    "systemd[1]: Started apt-daily.service - Daily apt download activities."
                );
            }
            2 => {
                let _ = writeln!(
                    out,
                    "kernel: [{}.{:06}] EXT4-fs (vda1): mounted filesystem with ordered data mode. Quota mode: none.",
                    self.rng.below(900_000),
                    self.rng.below(1_000_000)
                );
            }
            3 => {
                let _ = write!(
                    out,
                    "CRON[{}]: (root) CMD (/usr/local/bin/backup.sh --target ",
                    self.pid()
                );
                self.url(out);
                out.extend_from_slice(b")\n");
            }
            4 => {
                let _ = write!(out, "app[{}]: GET ", self.pid());
                self.url(out);
                let _ = writeln!(out, " -> 200 in {}ms", self.rng.below(800));
            }
            5 => {
                let _ = write!(out, "app[{}]: issued bearer token ", self.pid());
                secrets::push_token(&mut self.rng, out);
                out.push(b'\n');
            }
            6 => {
                let _ = write!(
                    out,
                    "nginx[{}]: upstream timed out (110: Connection timed out) while reading response header from upstream, client: ",
                    self.pid()
                );
                self.ip(out);
                out.extend_from_slice(b", request: \"GET ");
                self.path_and_query(out);
                out.extend_from_slice(b" HTTP/1.1\"\n");
            }
            _ => {
                let _ = writeln!(
                    out,
                    "dockerd[{}]: time=\"{}\" level=info msg=\"ignoring event\" module=libcontainerd namespace=moby topic=/tasks/delete type=\"*events.TaskDelete\"",
                    self.pid(),
                    self.clock
                );
            }
        }
    }

    /// A line that names a database, a broker, a PEM armour or a key without holding a secret:
    /// URIs without a password, SQL, redacted keys, public material.
    fn near_miss_line(&mut self, out: &mut Vec<u8>) {
        self.syslog_prefix(out);
        let pid = self.pid();
        let host = secrets::host(&mut self.rng, "db");
        let _ = match self.rng.below(12) {
            0 => writeln!(
                out,
                "app[{pid}]: connecting to postgres://app@{host}:5432/app (password from vault)"
            ),
            1 => writeln!(
                out,
                "app[{pid}]: replica postgresql://{host}:5432/orders is lagging by 3s"
            ),
            2 => writeln!(
                out,
                "app[{pid}]: cache at redis://{host}:6379/0 is reachable"
            ),
            3 => writeln!(
                out,
                "app[{pid}]: local dev database mysql://root:@127.0.0.1/shop has an empty password"
            ),
            4 => writeln!(
                out,
                "app[{pid}]: mongodb://{host}:27017/admin?replicaSet=rs0 elected a new primary"
            ),
            5 => writeln!(
                out,
                "postgres[{pid}]: LOG:  statement: BEGIN; UPDATE accounts SET balance = balance - 100 WHERE id = 42; COMMIT;"
            ),
            6 => writeln!(
                out,
                "mysqld[{pid}]: CREATE TABLE sessions (id CHAR(36) NOT NULL PRIMARY KEY, data JSON, KEY idx_expiry (expires_at))"
            ),
            7 => writeln!(
                out,
                "app[{pid}]: aws credentials loaded: AWS_ACCESS_KEY_ID=AKIA************ (redacted)"
            ),
            8 => writeln!(
                out,
                "app[{pid}]: ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI**************** (masked)"
            ),
            9 => writeln!(
                out,
                "app[{pid}]: expected a PEM block starting with -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----, got nothing"
            ),
            10 => writeln!(
                out,
                "app[{pid}]: amqp://{host}:5672/%2f connection closed (heartbeat timeout)"
            ),
            _ => writeln!(
                out,
                "kms[{pid}]: KEY rotation scheduled for alias/app-data (key id {})",
                secrets::hex(&mut self.rng, 32)
            ),
        };
    }

    /// Appends a line (or for PEM blocks, lines) that leaks `secret`, in a context typical of
    /// its kind. The secret is followed by whitespace, so the rule's match ends where it does.
    pub fn secret_line(&mut self, out: &mut Vec<u8>, secret: &Planted) {
        self.syslog_prefix(out);
        let pid = self.pid();
        let value = &secret.secret;
        let _ = match secret.rule.as_str() {
            secrets::AWS_KEY_ID => {
                let key = secrets::aws_secret_key(&mut self.rng);
                writeln!(
                    out,
                    "app[{pid}]: DEBUG env: AWS_ACCESS_KEY_ID={value} AWS_SECRET_ACCESS_KEY={key} AWS_REGION=eu-west-1"
                )
            }
            secrets::ALIBABA_KEY_ID => {
                let key = secrets::alibaba_secret(&mut self.rng);
                writeln!(
                    out,
                    "app[{pid}]: oss client configured: {{\"access_key_id\": \"{value}\", \"access_key_secret\": \"{key}\", \"endpoint\": \"oss-eu-central-1.aliyuncs.com\"}}"
                )
            }
            secrets::CONNECTION_URI => {
                let variable = match value.split_once("://").map_or("", |(scheme, _)| scheme) {
                    "redis" | "rediss" => "REDIS_URL",
                    "amqp" | "amqps" => "BROKER_URL",
                    "mongodb" | "mongodb+srv" => "MONGO_URL",
                    _ => "DATABASE_URL",
                };
                writeln!(out, "app[{pid}]: startup: {variable}={value} (from .env)")
            }
            _ => writeln!(
                out,
                "app[{pid}]: DEBUG tls: loaded private key from $TLS_KEY:\n{value}"
            ),
        };
    }

    fn syslog_prefix(&mut self, out: &mut Vec<u8>) {
        let (_, month, day, h, m, s) = civil(self.clock);
        let _ = write!(
            out,
            "{} {day:>2} {h:02}:{m:02}:{s:02} {} ",
            MONTHS[month - 1],
            self.host
        );
    }

    fn pid(&mut self) -> u64 {
        self.rng.range(300, 65_000)
    }

    fn ip(&mut self, out: &mut Vec<u8>) {
        let bits = self.rng.u64();
        let (a, b, c) = (
            (bits & 0xff) as u8,
            (bits >> 8 & 0xff) as u8,
            (bits >> 16 & 0xfe) as u8 + 1,
        );
        let _ = match bits >> 24 & 3 {
            0 => write!(out, "10.{a}.{b}.{c}"),
            1 => write!(out, "192.168.{b}.{c}"),
            2 => write!(out, "203.0.113.{c}"),
            _ => write!(out, "198.51.100.{c}"),
        };
    }

    /// `/path?query`, sometimes carrying a session token or a tracking campaign.
    fn path_and_query(&mut self, out: &mut Vec<u8>) {
        const PATHS: [&str; 8] = [
            "/api/v1/orders",
            "/api/v2/products/search",
            "/login",
            "/cart/checkout",
            "/static/js/app.js",
            "/images/products/large/item.jpg",
            "/oauth/authorize",
            "/health",
        ];
        out.extend_from_slice(PATHS[self.rng.index(PATHS.len())].as_bytes());
        let _ = match self.rng.below(6) {
            0 => Ok(()),
            1 => write!(
                out,
                "?page={}&per_page=50&sort=-created_at",
                self.rng.below(40)
            ),
            2 => write!(
                out,
                "?utm_source=newsletter&utm_medium=email&utm_campaign=spring-{}",
                self.rng.below(30)
            ),
            3 => write!(
                out,
                "?q={}&lang=en",
                self.rng.chars(crate::shared::rng::LOWER, 7)
            ),
            4 => {
                out.extend_from_slice(b"?response_type=code&client_id=web&state=");
                secrets::push_token(&mut self.rng, out);
                Ok(())
            }
            _ => {
                out.extend_from_slice(b"?session=");
                secrets::push_token(&mut self.rng, out);
                Ok(())
            }
        };
    }

    /// An http(s) URL with a path and maybe a query string.
    fn url(&mut self, out: &mut Vec<u8>) {
        const HOSTS: [&str; 6] = [
            "https://shop.example.com",
            "https://api.example.com",
            "http://cdn.example.net",
            "https://www.google.com",
            "https://accounts.example.org",
            "http://10.0.0.12:8080",
        ];
        out.extend_from_slice(HOSTS[self.rng.index(HOSTS.len())].as_bytes());
        self.path_and_query(out);
    }

    fn clf_time(&mut self, out: &mut Vec<u8>) {
        let (y, month, day, h, m, s) = civil(self.clock);
        let _ = write!(
            out,
            "{day:02}/{}/{y}:{h:02}:{m:02}:{s:02} +0000",
            MONTHS[month - 1]
        );
    }

    fn iso_time(&mut self, out: &mut Vec<u8>) {
        let (y, month, day, h, m, s) = civil(self.clock);
        let ms = self.rng.below(1000);
        let _ = write!(out, "{y}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z");
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// (year, month 1-12, day, hour, minute, second) of a Unix time, in UTC. Howard Hinnant's
/// `civil_from_days`, to avoid a date crate for log timestamps.
pub fn civil(unix: u64) -> (u64, usize, u64, u64, u64, u64) {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (
        year,
        month as usize,
        day,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::rules;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(LOG_START), (2024, 3, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400 + 3_723), (2000, 2, 29, 1, 2, 3));
    }

    /// Ordinary log text holds no match of any rule: every finding on a generated disk is a
    /// planted secret.
    #[test]
    fn plain_text_has_no_secrets() {
        let mut text_gen = TextGen::new(Prng::new(5), "web-1");
        let mut out = Vec::new();
        for flavor in Flavor::ALL {
            let target = out.len() + 300_000;
            text_gen.fill(&mut out, flavor, target);
        }
        let found = rules::find_all(&out);
        assert!(found.is_empty(), "{:?}", &found[..found.len().min(3)]);
    }
}
