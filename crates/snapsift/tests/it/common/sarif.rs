//! The OASIS SARIF 2.1.0 schema (committed in `tests/data`, see its README) as a validator,
//! for every test of a SARIF log (`scan --format sarif`, `audit --format sarif`).

use std::path::Path;

use serde_json::{Value, json};

/// The `language` pattern of the SARIF 2.1.0 schema as OASIS published it: its stray `]` is
/// not a valid ECMAScript regular expression (unicode mode), so a strict draft-07 validator
/// refuses the schema itself.
const LANGUAGE_PATTERN_2_1_0: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
/// The same pattern as the SARIF TC's errata 01 corrected it.
const LANGUAGE_PATTERN_ERRATA_01: &str = "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$";

/// The validator of the OASIS SARIF 2.1.0 schema (draft-07, `tests/data`), formats checked
/// too.
///
/// The schema is used as committed but for the one correction errata 01 made that the
/// validator needs: the two `language` patterns (of `run` and `toolComponent`, properties
/// snapsift does not write) that are not valid regular expressions.
pub fn sarif_validator() -> jsonschema::Validator {
    let schema_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
    let mut schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    for definition in ["run", "toolComponent"] {
        let pattern = &mut schema["definitions"][definition]["properties"]["language"]["pattern"];
        assert_eq!(pattern, LANGUAGE_PATTERN_2_1_0, "{definition}");
        *pattern = json!(LANGUAGE_PATTERN_ERRATA_01);
    }
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

/// Fails the test with the schema's complaints if `log` is not valid SARIF.
pub fn assert_valid_sarif(validator: &jsonschema::Validator, log: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(log)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: not valid SARIF 2.1.0:\n{}",
        errors.join("\n")
    );
}
