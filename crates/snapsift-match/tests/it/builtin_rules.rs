//! The built-in rule pack compiles and every rule's examples behave as written.

use snapsift_match::{BUILTIN_FAMILIES, Matcher, RuleSet, check_examples};

#[test]
fn every_builtin_rule_passes_its_examples() {
    let matcher = Matcher::new(&RuleSet::builtin().unwrap()).unwrap();
    let failures = check_examples(&matcher);
    let report: Vec<String> = failures.iter().map(|f| f.to_string()).collect();
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[test]
fn every_builtin_rule_has_positive_and_negative_examples() {
    for rule in RuleSet::builtin().unwrap().rules() {
        assert!(
            !rule.examples.is_empty(),
            "rule {} has no examples",
            rule.id
        );
        assert!(
            !rule.negative_examples.is_empty(),
            "rule {} has no negative examples",
            rule.id
        );
    }
}

#[test]
fn a_selection_keeps_the_named_rules_and_drops_pairings_with_the_others() {
    let set = RuleSet::builtin().unwrap();
    let only = set
        .clone()
        .only(&["aws.access-key-id".into(), "private-key.*".into()])
        .unwrap();
    let ids: Vec<&str> = only.rules().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids[0], "aws.access-key-id");
    assert!(ids[1..].iter().all(|id| id.starts_with("private-key.")));
    assert!(ids.len() >= 4, "{ids:?}");
    // The AWS key ID pairs with the secret key, which is not selected.
    assert!(set.rules()[0].pair.is_some());
    assert!(only.rules()[0].pair.is_none());
    assert!(Matcher::new(&only).is_ok());
    let err = set.only(&["aws.no-such-rule".into()]).unwrap_err();
    assert!(err.to_string().contains("aws.no-such-rule"), "{err}");
}

#[test]
fn every_file_under_rules_is_a_family_of_the_pack_and_generic_runs_last() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".toml"))
        .map(|name| name.trim_end_matches(".toml").to_owned())
        .collect();
    files.sort();
    let mut families: Vec<String> = BUILTIN_FAMILIES
        .iter()
        .map(|(f, _)| f.to_string())
        .collect();
    assert_eq!(families.last().map(String::as_str), Some("generic"));
    families.sort();
    assert_eq!(files, families, "rules/ and BUILTIN_FAMILIES differ");
    let set = RuleSet::builtin().unwrap();
    for rule in set.rules() {
        assert!(
            BUILTIN_FAMILIES.iter().any(|(f, _)| *f == rule.family),
            "{}: family {:?}",
            rule.id,
            rule.family
        );
    }
}
