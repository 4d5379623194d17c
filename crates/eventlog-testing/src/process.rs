//! Running programs to completion in tests.

use std::process::Output;

/// The standard output of a finished program, after asserting that it succeeded; a failure
/// panics with its exit status and standard error.
pub fn stdout_of(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("output is UTF-8")
}
