//! The built-in rule pack compiles and every rule's examples behave as written.

use snapsift_match::{Matcher, RuleSet, check_examples};

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
