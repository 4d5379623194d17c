//! Reads need no free disk: with the SQLite file on a real tmpfs filled to the last byte,
//! `eventlog serve` still answers API reads (whose token's "last used" time cannot be
//! written) with 200, while ingest answers 507. Needs root (it mounts a tmpfs).

use crate::support;

use std::io::Write as _;
use std::process::Command;
use std::time::Duration;

use support::{Serve, ServeSpec, http};

/// A tmpfs of `size` mounted on a new directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let mount = |program: &str, first: &[&str]| {
            Command::new(program)
                .args(first)
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success())
        };
        // As root, or through sudo without a password (as `.ci/run` installs packages).
        assert!(
            mount("mount", &[]) || mount("sudo", &["-n", "mount"]),
            "mount -t tmpfs failed: this test needs root or sudo (a real full disk)"
        );
        Tmpfs { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("sudo")
                .args(["-n", "umount"])
                .arg(self.dir.path())
                .status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_answer_on_a_full_disk_while_ingest_is_507() {
    let disk = Tmpfs::mount("6m");
    let url = format!("sqlite://{}", disk.dir.path().join("events.db").display());
    let writer = support::token(&url);
    // Never used: the first use of each must record when, which the full disk refuses
    // (some may still find room inside the file; not all five).
    let readers: Vec<String> = (0..5)
        .map(|i| {
            let name = format!("reader{i}");
            let out = support::eventlog(&url, &["token", "add", &name, "--scope", "read"], None);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        })
        .collect();
    let server = Serve::start(ServeSpec::new(&url));
    let client = http(Duration::from_secs(30));

    // Fill the disk: events until ingest answers 507, then a file to the last byte.
    let batch: Vec<_> = (0..500)
        .map(|i| serde_json::json!({"type": "info", "message": format!("{i} {}", "x".repeat(500))}))
        .collect();
    let mut full = false;
    for _ in 0..200 {
        let r = client
            .post(server.url("/api/v1/events"))
            .bearer_auth(&writer)
            .json(&batch)
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            201 => continue,
            507 => {
                full = true;
                break;
            }
            other => panic!("ingest answered {other}\n{}", server.log()),
        }
    }
    assert!(full, "the disk never filled");
    let mut filler = std::fs::File::create(disk.dir.path().join("filler")).unwrap();
    let block = vec![0u8; 4096];
    while filler.write_all(&block).is_ok() {}
    let _ = filler.sync_all();

    // Small events take what room is left inside the file, until there is none.
    let mut refused = 0;
    for _ in 0..500 {
        let ingest = client
            .post(server.url("/api/v1/events"))
            .bearer_auth(&writer)
            .json(&serde_json::json!({"type": "info", "message": "still full?"}))
            .send()
            .await
            .unwrap();
        match ingest.status().as_u16() {
            201 => refused = 0,
            507 => refused += 1,
            other => panic!("ingest answered {other}\n{}", server.log()),
        }
        if refused == 3 {
            break;
        }
    }
    assert_eq!(refused, 3, "ingest kept finding room\n{}", server.log());
    for reader in &readers {
        for path in ["/api/v1/events?limit=5", "/api/v1/events/1"] {
            let read = client
                .get(server.url(path))
                .bearer_auth(reader)
                .send()
                .await
                .unwrap();
            assert_eq!(read.status(), 200, "GET {path}\n{}", server.log());
        }
    }
    // Some of the five "last used" writes may still have found room inside the file; that
    // the failure path is taken is checked deterministically by
    // `read_only_bookkeeping` (a PostgreSQL database that refuses every write).
    eprintln!(
        "bookkeeping refused by the full disk: {}",
        server
            .log()
            .matches("cannot record when a session or token was last used")
            .count()
    );
}
