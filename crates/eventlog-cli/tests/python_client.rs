//! The Python client (`clients/python`, django-eventlog's `EventGroup` API over HTTP) against
//! the real `eventlog serve`: runs its unittest suite with this build's binary, so that
//! `scripts/test` covers it. Needs `python3` (3.9 or newer); fails, never skips, without it.

use std::process::Command;

#[test]
fn python_client_unittests_against_the_real_server() {
    let client_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../clients/python");
    let out = Command::new("python3")
        .args(["-m", "unittest", "discover", "-s", "tests", "-v"])
        .current_dir(client_dir)
        .env("EVENTLOG_BIN", env!("CARGO_BIN_EXE_eventlog"))
        .env("PYTHONPATH", "src")
        // No __pycache__ in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("EVENTLOG_URL")
        .env_remove("EVENTLOG_TOKEN")
        .env_remove("EVENTLOG_TYPES")
        .output()
        .expect("run python3: the Python client tests need python3 (3.9 or newer) installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Python client tests failed:\n{stderr}"
    );
    // unittest reports on stderr; make sure tests actually ran.
    let ran = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("Ran ")?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .unwrap_or(0);
    assert!(
        ran >= 13,
        "expected the Python client's tests to run:\n{stderr}"
    );
}
