//! Running programs to completion in tests.

use std::process::Output;

/// Asserts that a finished program succeeded; a failure panics with its exit status and
/// standard error.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The standard output of a finished program, after asserting that it succeeded (see
/// [`assert_success`]).
pub fn stdout_of(out: Output) -> String {
    assert_success(&out);
    String::from_utf8(out.stdout).expect("output is UTF-8")
}
