//! Keywords and URI schemes in any ASCII case: anchors are found in any case (one folded head
//! per keyword, whichever anchor search runs), and the rule's regex decides which casings
//! count.

use snapsift_match::{AnchorSearch, Matcher, RuleSet};

/// The rule and secret of every valid finding of the built-in rules in `text`, with the anchor
/// search `search`.
fn valid(text: &str, search: AnchorSearch) -> Vec<(String, String)> {
    crate::common::assess(text, search)
        .into_iter()
        .filter(|(_, _, assessment)| assessment.is_valid())
        .map(|(rule, secret, _)| (rule, secret))
        .collect()
}

#[test]
fn keywords_and_schemes_match_in_any_ascii_case() {
    // (text, rule, secret); the keyword or scheme in casings the rules never spelled out.
    let cases = [
        (
            "PassWord = Qm7vTz2LrX9k",
            "generic.password",
            "Qm7vTz2LrX9k",
        ),
        (
            "dbPassWord: Hq4Wn8ZcVt2pLs",
            "generic.password",
            "Hq4Wn8ZcVt2pLs",
        ),
        ("PASSword=Rx5Jm2KdWq8N", "generic.password", "Rx5Jm2KdWq8N"),
        ("pAsSwD: Lk3Vb8QwZx2M", "generic.password", "Lk3Vb8QwZx2M"),
        (
            "PassWord = \"Tq6Wm3Zk9Rv2\"",
            "generic.password-quoted",
            "Tq6Wm3Zk9Rv2",
        ),
        (
            "api_Key = \"x7Kq2MvR9tLb4WnZ8cHd3FjP\"",
            "generic.secret",
            "x7Kq2MvR9tLb4WnZ8cHd3FjP",
        ),
        (
            "SeCrEt_KeY=Zr8Tq2Wm5Lk9Vb3Nx7Hd",
            "generic.secret",
            "Zr8Tq2Wm5Lk9Vb3Nx7Hd",
        ),
        (
            "HTTPS://deploy:Vb7Qk2Lm9XzR4tNw@git.internal/org/repo.git",
            "uri.credentials",
            "Vb7Qk2Lm9XzR4tNw",
        ),
        (
            "Postgres://app:Jq8Rv2Nx5LmT7wKz@db-xmqlte.internal:5432/app",
            "connection-uri.password",
            "Postgres://app:Jq8Rv2Nx5LmT7wKz@db-xmqlte.internal:5432/app",
        ),
        (
            "PostgreSQL://report:Wz4Tq9Ld2KvN6xRb@db-pzqlwe.internal/warehouse",
            "connection-uri.password",
            "PostgreSQL://report:Wz4Tq9Ld2KvN6xRb@db-pzqlwe.internal/warehouse",
        ),
        (
            "JDBC:MySQL://db:3306/app?user=app&PassWord=Nw4Kx8Tz2Qm6",
            "jdbc.password",
            "Nw4Kx8Tz2Qm6",
        ),
        (
            "SERVER=sql-02;DATABASE=app;UID=app;PWD=Kx7Vq2Lm9RtZ4bNw;",
            "connection-string.password",
            "Kx7Vq2Lm9RtZ4bNw",
        ),
    ];
    for search in [AnchorSearch::Fastest, AnchorSearch::Portable] {
        for (text, rule, secret) in cases {
            let found = valid(text, search);
            assert!(
                found.contains(&(rule.to_string(), secret.to_string())),
                "{search:?}: {text}: {found:?}"
            );
        }
    }
}

#[test]
fn case_sensitive_tokens_and_test_logs_stay_unmatched() {
    // Folded anchors find these; the rules' regexes turn them away: token prefixes are
    // upper case by their format, and `PASS:` is a test log's verdict.
    for text in [
        "akia2ZQ7XK4MJN3VBW5L",
        "Akia2ZQ7XK4MJN3VBW5L",
        "ltai5tBcDeFgHiJkLmNo",
        "PASS: test_login_42 (0.12s)",
        "-----begin rsa private key-----",
    ] {
        for search in [AnchorSearch::Fastest, AnchorSearch::Portable] {
            assert_eq!(valid(text, search), [], "{search:?}: {text}");
        }
    }
}

#[test]
fn a_case_insensitive_rule_compiles_to_its_keyword_in_lower_case() {
    let set = RuleSet::from_toml(
        r#"
[[rule]]
id = "vendor.password"
name = "Vendor password"
confidence = "medium"
pattern = '(?i)vendor_password {0,4}= {0,4}(?P<secret>[A-Za-z0-9]{12,32})'
examples = ["VENDOR_PASSWORD = Tz8Qm2Kx7Wb4"]
negative_examples = ["vendor_password ="]
"#,
    )
    .unwrap();
    let matcher = Matcher::new(&set).unwrap();
    // Not 2^14 casings: the keyword in lower case (and what the extractor reads past it).
    let anchors = matcher.anchors(0);
    assert!(
        !anchors.is_empty()
            && anchors.len() <= 4
            && anchors.iter().all(|a| a.starts_with(b"vendor_password")),
        "{anchors:?}"
    );
    for text in [
        "vendor_password = Tz8Qm2Kx7Wb4",
        "Vendor_Password=Tz8Qm2Kx7Wb4",
    ] {
        let mut found = Vec::new();
        matcher.find_in(
            text.as_bytes(),
            0..text.len(),
            &mut matcher.scratch(),
            &mut found,
        );
        assert_eq!(found.len(), 1, "{text}");
    }
}
