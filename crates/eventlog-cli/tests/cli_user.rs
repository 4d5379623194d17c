//! `eventlog user …` and `eventlog serve`, run as the real binary on both backends.

use crate::support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use eventlog::store;

fn eventlog(url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .env("EVENTLOG_DATABASE_URL", url)
        .env_remove("EVENTLOG_CONFIG")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run eventlog");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().expect("wait for eventlog")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs each `(arguments, stdin, says)` and asserts that it fails saying `says` on stderr.
fn assert_all_fail(url: &str, cases: &[(&[&str], &str, &str)]) {
    for (args, stdin, says) in cases {
        let o = eventlog(url, args, stdin);
        assert!(!o.status.success(), "{args:?} succeeded, expected {says:?}");
        assert!(
            err(&o).contains(says),
            "{args:?}: {says:?} missing from {}",
            err(&o)
        );
    }
}

async fn users_are_added_listed_changed_and_removed(url: &str) {
    let o = eventlog(
        url,
        &[
            "user",
            "add",
            "alice",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "first password\n",
    );
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "created user alice (admin)\n");
    let o = eventlog(
        url,
        &["user", "add", "bob", "--password-stdin"],
        "bob's password\n",
    );
    assert!(
        out(&o).contains("bob (viewer)"),
        "viewer is the default role"
    );
    assert_all_fail(
        url,
        &[
            (
                &["user", "add", "alice", "--password-stdin"],
                "another password\n",
                "user \"alice\" already exists",
            ),
            (
                &["user", "add", "carol", "--password-stdin"],
                "short\n",
                "password is 5 characters long; it must be at least 8",
            ),
        ],
    );

    let o = eventlog(url, &["user", "list", "--json"], "");
    let users: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(support::fields(&users, "name"), ["alice", "bob"]);
    assert!(!out(&o).contains("argon2"), "hashes are never printed");

    let s = store::open(url).await.unwrap();
    let (_, old_hash) = s.user_by_name("alice").await.unwrap().unwrap();
    assert!(old_hash.starts_with("$argon2id$"));
    let o = eventlog(
        url,
        &["user", "passwd", "alice", "--password-stdin"],
        "second password\n",
    );
    assert!(o.status.success(), "{}", err(&o));
    let (_, new_hash) = s.user_by_name("alice").await.unwrap().unwrap();
    assert_ne!(old_hash, new_hash);
    assert!(eventlog_web::auth::password::verify_password(
        "second password",
        &new_hash
    ));

    let o = eventlog(url, &["user", "remove", "bob"], "");
    assert!(o.status.success());
    assert_all_fail(
        url,
        &[
            (&["user", "remove", "bob"], "", "no user named \"bob\""),
            (
                &["user", "passwd", "nobody", "--password-stdin"],
                "whatever123\n",
                "no user named \"nobody\"",
            ),
        ],
    );
}

/// `user list` lines up its columns whatever the name lengths.
async fn user_list_columns_line_up(url: &str) {
    let long = "a_user_name_longer_than_24_chars";
    for (name, role) in [("al", "admin"), (long, "viewer")] {
        let o = eventlog(
            url,
            &["user", "add", name, "--role", role, "--password-stdin"],
            "a good password\n",
        );
        assert!(o.status.success(), "{}", err(&o));
    }
    let o = eventlog(url, &["user", "list"], "");
    assert!(o.status.success(), "{}", err(&o));
    let text = out(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("NAME "), "{text}");
    let role_at = lines[0].find("ROLE").unwrap();
    let created_at = lines[0].find("CREATED").unwrap();
    let al = lines.iter().find(|l| l.starts_with("al ")).expect(&text);
    let other = lines.iter().find(|l| l.starts_with(long)).expect(&text);
    assert_eq!(al.find("admin"), Some(role_at), "{text}");
    assert_eq!(other.find("viewer"), Some(role_at), "{text}");
    for line in &lines[1..] {
        assert_eq!(
            line.find(" UTC").map(|i| i - 19),
            Some(created_at),
            "{text}"
        );
    }
}

/// Without a terminal, the prompt fails with a message that says to use `--password-stdin`.
async fn user_add_without_a_terminal_suggests_password_stdin(url: &str) {
    // `setsid` starts the binary in a new session, without a controlling terminal, as under
    // cron or in a container, whatever terminal the test itself runs in.
    let o = Command::new("setsid")
        .arg("--wait")
        .arg(env!("CARGO_BIN_EXE_eventlog"))
        .args(["user", "add", "dora"])
        .env("EVENTLOG_DATABASE_URL", url)
        .env_remove("EVENTLOG_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run setsid eventlog (setsid is in util-linux)");
    assert!(!o.status.success());
    let e = err(&o);
    assert!(e.contains("cannot prompt for the password"), "{e}");
    assert!(
        e.contains("| eventlog user add dora --password-stdin`"),
        "{e}"
    );
    let o = eventlog(url, &["user", "add", "--help"], "");
    let help = out(&o);
    assert!(!help.contains("admin user"), "{help}");
    assert!(help.contains("a viewer unless `--role admin`"), "{help}");
}

async fn serve_explains_how_to_create_the_first_user(url: &str) {
    let server = support::Serve::start(support::ServeSpec::new(url));
    let text = server.log();
    assert!(text.contains("No admin user exists yet"), "{text}");
    assert!(text.contains("user add admin --role admin"), "{text}");
    assert!(text.contains("listening on http://127.0.0.1:"), "{text}");
}

eventlog_testing::on_both_backends!(
    users_are_added_listed_changed_and_removed,
    user_list_columns_line_up,
    user_add_without_a_terminal_suggests_password_stdin,
    serve_explains_how_to_create_the_first_user
);
