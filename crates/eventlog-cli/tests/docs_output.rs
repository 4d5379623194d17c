//! CLI output quoted in README.md and docs/*.md comes from the real binary. A quote is a
//! `text` block right after a marker naming the command:
//!
//! ```text
//! <!-- output of `eventlog migrate` on a new sqlite database -->
//! ```
//!
//! (`on a new sqlite|postgres database`, `again on a sqlite database` after a first run, or
//! nothing for commands that need no database). The test runs each and compares, trailing
//! spaces aside; with `EVENTLOG_BLESS_DOCS=1` it writes the binary's output into the files
//! instead (then review the diff).

use std::path::{Path, PathBuf};

use eventlog_testing::TestDb;

const MARKER: &str = "<!-- output of `eventlog ";

/// Where a quoted command runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Database {
    None,
    New(&'static str),
    Again(&'static str),
}

struct Quote {
    file: PathBuf,
    /// Line index of the marker.
    line: usize,
    args: Vec<String>,
    database: Database,
}

fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    files.insert(0, root.join("README.md"));
    files
}

fn quotes() -> Vec<Quote> {
    let mut out = Vec::new();
    for file in documents() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, l) in text.lines().enumerate() {
            let Some(rest) = l.trim().strip_prefix(MARKER) else {
                continue;
            };
            let (command, tail) = rest.split_once('`').expect("a marker closes its command");
            let tail = tail.trim_end_matches("-->").trim();
            let database = match tail {
                "" => Database::None,
                "on a new sqlite database" => Database::New("sqlite"),
                "on a new postgres database" => Database::New("postgres"),
                "again on a sqlite database" => Database::Again("sqlite"),
                "again on a postgres database" => Database::Again("postgres"),
                other => panic!(
                    "{}:{}: unknown marker tail {other:?}",
                    file.display(),
                    line + 1
                ),
            };
            out.push(Quote {
                file: file.clone(),
                line,
                args: command.split_whitespace().map(str::to_owned).collect(),
                database,
            });
        }
    }
    out
}

fn run(url: &str, args: &[String]) -> String {
    let out = crate::support::eventlog_plain(url, args);
    assert!(
        out.status.success(),
        "eventlog {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut text = String::from_utf8(out.stdout).unwrap();
    text.push_str(&String::from_utf8(out.stderr).unwrap());
    normalize(&text)
}

fn normalize(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

/// The block after the marker: (first content line, end fence line) indexes.
fn block(lines: &[&str], marker: usize) -> (usize, usize) {
    assert_eq!(
        lines.get(marker + 1).map(|l| l.trim()),
        Some("```text"),
        "a text block follows line {}",
        marker + 1
    );
    let end = (marker + 2..lines.len())
        .find(|&i| lines[i].trim() == "```")
        .expect("the block is closed");
    (marker + 2, end)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_output_quoted_in_the_docs_comes_from_the_binary() {
    let quotes = quotes();
    assert!(
        quotes.len() >= 4,
        "the docs quote the binary: {} quotes found",
        quotes.len()
    );
    let bless = std::env::var_os("EVENTLOG_BLESS_DOCS").is_some();
    let mut wrong = Vec::new();
    // Bottom up, so that writing one block leaves the lines of the ones above in place.
    for quote in quotes.into_iter().rev() {
        let actual = match quote.database {
            Database::None => run("sqlite::memory:", &quote.args),
            Database::New(backend) => {
                let db = TestDb::backend(backend).await;
                run(db.url(), &quote.args)
            }
            Database::Again(backend) => {
                let db = TestDb::backend(backend).await;
                run(db.url(), &quote.args);
                run(db.url(), &quote.args)
            }
        };
        let text = std::fs::read_to_string(&quote.file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let (start, end) = block(&lines, quote.line);
        let quoted = normalize(&lines[start..end].join("\n"));
        if quoted == actual {
            continue;
        }
        if bless {
            let mut new: Vec<&str> = lines[..start].to_vec();
            new.extend(actual.lines());
            new.extend(&lines[end..]);
            std::fs::write(&quote.file, new.join("\n") + "\n").unwrap();
        } else {
            wrong.push(format!(
                "{}:{}: `eventlog {}` prints\n{actual}\nbut the docs quote\n{quoted}",
                quote.file.display(),
                quote.line + 1,
                quote.args.join(" ")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\n(EVENTLOG_BLESS_DOCS=1 writes the binary's output into the docs)",
        wrong.join("\n\n")
    );
}
