//! Configuration from the environment, with the real binary: one precedence for every
//! setting — command-line flag > `EVENTLOG_…` variable > `eventlog.toml` > default.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use eventlog_testing::smtp::{Mode, SmtpSink};

/// `eventlog ARGS` in `dir` with exactly the `EVENTLOG_` variables given (none inherited).
fn eventlog(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eventlog"));
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    for (key, _) in std::env::vars() {
        if key.starts_with("EVENTLOG_") {
            cmd.env_remove(key);
        }
    }
    for (key, value) in vars {
        cmd.env(key, value);
    }
    cmd
}

fn run(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    eventlog(dir, args, vars).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn database_url_flag_beats_environment_beats_file_beats_default() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = |name: &str| format!("sqlite://{}", d.join(name).display());
    std::fs::write(
        d.join("eventlog.toml"),
        format!("database_url = \"{}\"\n", url("file.db")),
    )
    .unwrap();

    // The file's `database_url` is read when no flag or variable gives one.
    let out = run(d, &["migrate"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(d.join("file.db").exists());
    assert!(!d.join("eventlog.db").exists(), "the default was used");

    let env_url = url("env.db");
    let out = run(d, &["migrate"], &[("EVENTLOG_DATABASE_URL", &env_url)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(d.join("env.db").exists(), "the variable beats the file");

    let flag_url = url("flag.db");
    let out = run(
        d,
        &["--database-url", &flag_url, "migrate"],
        &[("EVENTLOG_DATABASE_URL", &env_url)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(d.join("flag.db").exists(), "the flag beats the variable");

    // No file, no flag, no variable: the default, in the working directory.
    std::fs::remove_file(d.join("eventlog.toml")).unwrap();
    let out = run(d, &["migrate"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(d.join("eventlog.db").exists());
}

/// Starts `serve` and returns the address it printed, or its stderr if it exited.
fn serve_addr(mut cmd: Command) -> Result<String, String> {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    let mut found = None;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.split("listening on http://").nth(1) {
            found = Some(rest.split('/').next().unwrap_or_default().to_owned());
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    found.ok_or(seen)
}

#[test]
fn server_bind_flag_beats_environment_beats_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = format!("sqlite://{}", d.join("e.db").display());
    // A port that is taken: whoever is told to use it fails to start.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    std::fs::write(
        d.join("eventlog.toml"),
        format!("[server]\nbind = \"{taken_addr}\"\n"),
    )
    .unwrap();

    // The file alone: its (taken) address is used, and fails.
    let err = serve_addr(eventlog(d, &["serve"], &[("EVENTLOG_DATABASE_URL", &db)])).unwrap_err();
    assert!(
        err.contains(&format!("cannot listen on {taken_addr}")),
        "{err}"
    );

    // The variable beats the file (as scripts/demo uses it).
    let addr = serve_addr(eventlog(
        d,
        &["serve"],
        &[
            ("EVENTLOG_DATABASE_URL", &db),
            ("EVENTLOG_SERVER__BIND", "127.0.0.1:0"),
        ],
    ))
    .unwrap();
    assert_ne!(addr, taken_addr);

    // The flag beats the variable.
    let addr = serve_addr(eventlog(
        d,
        &["serve", "--bind", "127.0.0.1:0"],
        &[
            ("EVENTLOG_DATABASE_URL", &db),
            ("EVENTLOG_SERVER__BIND", &taken_addr),
        ],
    ))
    .unwrap();
    assert_ne!(addr, taken_addr);
    drop(taken);
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["types"],
        &[("EVENTLOG_SERVER__MAX_CONNECTIONS", "many")],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("environment variable EVENTLOG_SERVER__MAX_CONNECTIONS=\"many\"")
            && err.contains("server.max_connections"),
        "{err}"
    );
    let out = run(dir.path(), &["types"], &[("EVENTLOG_SERVER__BNID", "x")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("EVENTLOG_SERVER__BNID") && stderr(&out).contains("unknown field"),
        "{}",
        stderr(&out)
    );
}

/// A nested `[mail]` key from the environment: the section exists without a file, and the
/// mail goes to the server the variable names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_keys_come_from_the_environment() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("e.db").display());
    let smtp = sink.url();
    let out = run(
        dir.path(),
        &[
            "log",
            "error",
            "disk full",
            "--send-mail",
            "ops@example.com",
        ],
        &[
            ("EVENTLOG_DATABASE_URL", &db),
            ("EVENTLOG_MAIL__URL", &smtp),
            ("EVENTLOG_MAIL__FROM", "env-sender@example.com"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut mails = sink.mails();
    for _ in 0..100 {
        if !mails.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        mails = sink.mails();
    }
    assert_eq!(mails.len(), 1, "{}", stderr(&out));
    assert!(
        mails[0].from.contains("env-sender@example.com"),
        "{:?}",
        mails[0]
    );
    assert_eq!(mails[0].to, ["<ops@example.com>"]);
}
