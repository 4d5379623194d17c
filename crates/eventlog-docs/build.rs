//! Collects the Rust blocks of README.md and docs/*.md into one Markdown file in OUT_DIR, each
//! under a heading naming its file and line, for `src/lib.rs` to include as doc tests. Only
//! the Rust blocks are taken: the other blocks (shell, TOML, diagrams) are not Rust, and
//! rustdoc would compile every unlabelled one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../..");
    let mut files = vec![root.join("README.md")];
    let docs = root.join("docs");
    println!("cargo:rerun-if-changed={}", docs.display());
    let mut in_docs: Vec<PathBuf> = std::fs::read_dir(&docs)
        .expect("docs/ is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    in_docs.sort();
    files.extend(in_docs);
    let mut out = String::new();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let text = std::fs::read_to_string(file).expect("a documentation file is readable");
        collect(&root, file, &text, &mut out);
    }
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("blocks.md");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// Appends each fenced block whose info string starts with `rust` (indented blocks in lists
/// included), with its indentation removed.
fn collect(root: &Path, file: &Path, text: &str, out: &mut String) {
    let name = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    let mut lines = text.lines().enumerate();
    while let Some((number, line)) = lines.next() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let Some(info) = trimmed.strip_prefix("```") else {
            continue;
        };
        let is_rust = info.split([' ', ',']).next() == Some("rust");
        let mut body = String::new();
        for (_, inner) in lines.by_ref() {
            if inner.trim_start().starts_with("```") {
                break;
            }
            body.push_str(inner.get(indent..).unwrap_or(inner.trim_start()));
            body.push('\n');
        }
        if is_rust {
            let _ = write!(
                out,
                "\n{name}, line {}:\n\n```{info}\n{body}```\n",
                number + 1
            );
        }
    }
}
