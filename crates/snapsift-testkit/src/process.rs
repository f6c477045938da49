//! Running the real tools: a failed or missing tool fails the test with its error output.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `program args...`; fails the test with its status and standard error if it cannot be
/// run or does not succeed. Returns its output.
pub fn run(program: &str, args: &[&str]) -> Output {
    run_with_input(program, args, "")
}

/// [`run`], returning the standard output as text (invalid UTF-8 replaced).
pub fn run_stdout(program: &str, args: &[&str]) -> String {
    String::from_utf8_lossy(&run(program, args).stdout).into_owned()
}

/// [`run`], with `input` on the program's standard input.
pub fn run_with_input(program: &str, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} (is it installed?): {e}"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // A program that exits without reading its input closes the pipe: not an error here.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `script` with `sh -e` in `dir` (for tools that work in place or on relative paths),
/// failing the test with its standard error if it fails.
pub fn sh(dir: &Path, script: &str) {
    let output = Command::new("sh")
        .args(["-ec", script])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run sh: {e}"));
    assert!(
        output.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
