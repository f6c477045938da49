//! Placeholders versus weak secrets, through the built-in rules: each text below is matched by
//! the real matcher and assessed by its rule's checks, the path a disk scan takes. A
//! placeholder is rejected with its reason; a weak password is kept, marked `weak` with why;
//! a quoted or unquoted value is reported whole.

use snapsift_match::checks::Fact;
use snapsift_match::{AnchorSearch, Assessment, RuleSet};

/// What the built-in rules make of `text` (see [`crate::common::assess`]).
fn assess(text: &str) -> Vec<(String, String, Assessment)> {
    crate::common::assess(text, AnchorSearch::Fastest)
}

/// The one match of `rule` in `text`.
fn only(text: &str, rule: &str) -> (String, Assessment) {
    let all = assess(text);
    let mut of_rule: Vec<_> = all.iter().filter(|(id, _, _)| id == rule).collect();
    assert_eq!(of_rule.len(), 1, "{text}: {all:?}");
    let (_, secret, assessment) = of_rule.remove(0);
    (secret.clone(), assessment.clone())
}

fn fact<'a>(a: &'a Assessment, name: &str) -> Option<&'a str> {
    a.facts
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value.as_str())
}

/// Real passwords that are easy to guess: findings, marked weak, with the reason.
#[test]
fn weak_passwords_are_findings_marked_weak() {
    // (text, rule, the secret as reported, a reason it must give)
    let cases = [
        (
            "password = Password123!",
            "generic.password",
            "Password123!",
            "common password",
        ),
        (
            "DB_PASSWORD=Welcome1!",
            "generic.password",
            "Welcome1!",
            "common password",
        ),
        (
            "password: Qwerty123!",
            "generic.password",
            "Qwerty123!",
            "common password",
        ),
        (
            "MYSQL_PASSWORD=Letmein123",
            "generic.password",
            "Letmein123",
            "common password",
        ),
        (
            "password = 12345Qw!",
            "generic.password",
            "12345Qw!",
            "mostly sequential",
        ),
        (
            "password = Hunter22",
            "generic.password",
            "Hunter22",
            "low entropy",
        ),
        ("PGPASSWORD=x9!Kq7", "generic.password", "x9!Kq7", "short"),
        (
            "machine ftp.internal login ops password Passw0rd!",
            "netrc.password",
            "Passw0rd!",
            "common password",
        ),
        (
            "machine git.internal login ci password Hunter22",
            "netrc.password",
            "Hunter22",
            "low entropy",
        ),
        (
            "https://ci:Hunter22@git.internal/team/repo.git",
            "uri.credentials",
            "Hunter22",
            "low entropy",
        ),
        (
            "https://ops:Qwerty123!@nexus.internal/repository/",
            "uri.credentials",
            "Qwerty123!",
            "common password",
        ),
        (
            "DATABASE_URL=postgres://shop:Welcome1!@db.internal:5432/shop",
            "connection-uri.password",
            "postgres://shop:Welcome1!@db.internal:5432/shop",
            "common password",
        ),
        (
            "password = \"Passw0rd!\"",
            "generic.password-quoted",
            "Passw0rd!",
            "common password",
        ),
        // A Kubernetes Secret's data: base64 of "MyPassword2024!".
        (
            "data:\n  password: TXlQYXNzd29yZDIwMjQh\n",
            "generic.password",
            "TXlQYXNzd29yZDIwMjQh",
            "common password",
        ),
        // A Docker login: base64 of "deploy:MyPassword2024!".
        (
            "{\"auths\": {\"registry.internal\": {\"auth\": \"ZGVwbG95Ok15UGFzc3dvcmQyMDI0IQ==\"}}}",
            "docker.config-auth",
            "ZGVwbG95Ok15UGFzc3dvcmQyMDI0IQ==",
            "common password",
        ),
    ];
    for (text, rule, secret, why) in cases {
        let (found, a) = only(text, rule);
        assert_eq!(found, secret, "{text}");
        assert!(a.is_valid(), "{text}: {:?}", a.rejected);
        assert_eq!(fact(&a, "weak"), Some("true"), "{text}: {:?}", a.facts);
        let reason = fact(&a, "weak_reason").unwrap_or_default();
        assert!(reason.contains(why), "{text}: {reason}");
    }
}

/// Strong values are findings with no `weak` fact.
#[test]
fn strong_passwords_are_findings_not_weak() {
    for (text, rule, secret) in [
        ("DB_PASSWORD=Tr0ub4dor&3", "generic.password", "Tr0ub4dor&3"),
        (
            "password = \"correct horse battery staple\"",
            "generic.password-quoted",
            "correct horse battery staple",
        ),
        (
            "DB_PASSWORD='Tr0ub4dor&3'",
            "generic.password-quoted",
            "Tr0ub4dor&3",
        ),
        (
            "mongodb://admin:Tr0ub4dor&3@db.internal:27017/admin",
            "connection-uri.password",
            "mongodb://admin:Tr0ub4dor&3@db.internal:27017/admin",
        ),
        (
            "https://deploy:Tr0ub4dor&3@git.internal",
            "uri.credentials",
            "Tr0ub4dor&3",
        ),
        (
            "Server=sql-01;Database=app;User Id=app;Pwd=correct horse battery 7;",
            "connection-string.password",
            "correct horse battery 7",
        ),
    ] {
        let (found, a) = only(text, rule);
        assert_eq!(found, secret, "{text}");
        assert!(a.is_valid(), "{text}: {:?}", a.rejected);
        assert_eq!(fact(&a, "weak"), None, "{text}: {:?}", a.facts);
    }
}

/// An `&` followed by a parameter name ends a URL query value; the value before it is whole.
#[test]
fn query_parameters_end_at_the_ampersand() {
    let (secret, a) = only("auth_pass=fIlKrBjcU4AZ&user=admin", "generic.password");
    assert_eq!(secret, "fIlKrBjcU4AZ");
    assert!(a.is_valid());
    let (secret, _) = only(
        "jdbc:postgresql://db:5432/app?user=app&password=uMPe48&fHvG&ssl=true",
        "jdbc.password",
    );
    assert_eq!(secret, "uMPe48");
}

/// Placeholders are no findings, whatever rule finds them, and say why.
#[test]
fn placeholders_are_rejected_with_a_reason() {
    let cases = [
        (
            "postgres://user:${DB_PASSWORD}@db.internal:5432/app",
            "connection-uri.password",
            "template or variable",
        ),
        (
            "mongodb://root:$MONGODB_PASSWORD@mongo:27017/admin",
            "connection-uri.password",
            "template or variable",
        ),
        (
            "mysql://user:password@localhost:3306/shop",
            "connection-uri.password",
            "dummy value",
        ),
        (
            "redis://:********@cache.internal:6379",
            "connection-uri.password",
            "mask",
        ),
        (
            "https://ci:changeme@git.internal",
            "uri.credentials",
            "dummy value",
        ),
        (
            "https://ci:xxxxxxxx@git.internal",
            "uri.credentials",
            "mask",
        ),
        (
            "machine h login u password ********",
            "netrc.password",
            "mask",
        ),
        (
            "machine h login u password $NETRC_PASSWORD",
            "netrc.password",
            "template or variable",
        ),
        (
            "password = \"%s\"",
            "generic.password-quoted",
            "format placeholder",
        ),
        (
            "password: \"{{ db_password }}\"",
            "generic.password-quoted",
            "template or variable",
        ),
        (
            "password = \"your_password_here\"",
            "generic.password-quoted",
            "description",
        ),
        (
            "password = \"Enter your password\"",
            "generic.password-quoted",
            "description",
        ),
        (
            "password = \"example-pass-1\"",
            "generic.password-quoted",
            "documented example",
        ),
        ("DB_PASSWORD=changeme123", "generic.password", "dummy value"),
        ("DB_PASSWORD=secret2024", "generic.password", "dummy value"),
        (
            "Server=s;User Id=a;Password=${DB_PASSWORD};",
            "connection-string.password",
            "template or variable",
        ),
        (
            "Server=s;User Id=a;Password=<password>;",
            "connection-string.password",
            "mask",
        ),
        // base64 of "not my real password".
        (
            "password: 'bm90IG15IHJlYWwgcGFzc3dvcmQ='",
            "generic.password-quoted",
            "base64-encoded",
        ),
        // A Docker login whose password is a variable: base64 of "me:${REGISTRY_TOKEN}".
        (
            "\"auth\": \"bWU6JHtSRUdJU1RSWV9UT0tFTn0=\"",
            "docker.config-auth",
            "template or variable",
        ),
    ];
    for (text, rule, why) in cases {
        let (_, a) = only(text, rule);
        let rejected = a
            .rejected
            .unwrap_or_else(|| panic!("{text}: not rejected, facts {:?}", a.facts));
        assert!(rejected.reason.contains(why), "{text}: {}", rejected.reason);
    }
}

/// The facts are named as the findings report them.
#[test]
fn weak_facts_are_named() {
    let (_, a) = only("password = Welcome1!", "generic.password");
    assert!(
        a.facts.contains(&Fact::new("weak", "true")),
        "{:?}",
        a.facts
    );
}

/// Every rule that finds a password or a token runs the `placeholder` check (`docker-auth`
/// and `uri-password` run it on the password they take out); the others find keys, hashes
/// and IDs.
#[test]
fn every_password_and_token_rule_checks_for_placeholders() {
    const NOT_A_VALUE: [&str; 4] = ["pem-key", "pgp-private-key", "putty-key", "shadow-hash"];
    for rule in RuleSet::builtin().unwrap().rules() {
        let names: Vec<&str> = rule.checks.iter().map(|c| c.name()).collect();
        let checked = ["placeholder", "docker-auth", "uri-password"]
            .iter()
            .any(|n| names.contains(n));
        let exempt = names.iter().any(|n| NOT_A_VALUE.contains(n))
            // Base64 of a PEM key: the key body is checked by its shape.
            || rule.id == "base64.pem-private-key"
            // Names a principal, not a credential.
            || rule.id == "aws.iam-unique-id";
        assert!(
            checked || exempt,
            "rule {} has no placeholder check",
            rule.id
        );
    }
}
