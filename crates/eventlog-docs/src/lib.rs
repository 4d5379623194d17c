//! The user documentation's own checks (nothing to link against):
//!
//! - every Rust block of README.md and docs/*.md compiles, as a doc test of this crate
//!   (`cargo test --doc -p eventlog-docs`; blocks that need a database or a network are
//!   marked `no_run`, none is `ignore`);
//! - the tests in `tests/` keep the MSRV stated once, in Cargo.toml's `rust-version`.
//!
//! CLI output quoted in the docs is compared with the real binary by the `eventlog-cli`
//! test `docs_output`.

#[cfg(doctest)]
#[doc = include_str!(concat!(env!("OUT_DIR"), "/blocks.md"))]
pub struct DocumentationRustBlocks;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn read(path: &str) -> String {
        std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// README.md and every docs/*.md, by path.
    fn documents() -> Vec<(String, String)> {
        let mut names: Vec<String> = std::fs::read_dir(root().join("docs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".md"))
            .map(|n| format!("docs/{n}"))
            .collect();
        names.sort();
        names.insert(0, "README.md".into());
        names
            .into_iter()
            .map(|n| (read(&n), n))
            .map(|(t, n)| (n, t))
            .collect()
    }

    #[test]
    fn no_rust_block_is_left_uncompiled() {
        for (name, text) in documents() {
            for (i, line) in text.lines().enumerate() {
                let info = line.trim_start().strip_prefix("```").unwrap_or("");
                let words: Vec<&str> = info.split([' ', ',']).collect();
                assert!(
                    !(words[0] == "rust" && words.contains(&"ignore")),
                    "{name}:{}: a Rust block marked `ignore` is never compiled; \
                     make it compile (`no_run` if it needs a database or a network)",
                    i + 1
                );
            }
        }
    }

    /// The one source of the MSRV is Cargo.toml's `rust-version`: the README states the same,
    /// and .ci/run reads it from there.
    #[test]
    fn the_msrv_is_stated_once() {
        let manifest = read("Cargo.toml");
        let msrv = manifest
            .lines()
            .find_map(|l| l.strip_prefix("rust-version = \""))
            .and_then(|rest| rest.strip_suffix('"'))
            .expect("Cargo.toml has a workspace rust-version");
        let readme = read("README.md");
        assert!(
            readme.contains(&format!("needs Rust {msrv} or newer")),
            "README.md must say \"needs Rust {msrv} or newer\""
        );
        for (name, text) in documents()
            .into_iter()
            .chain([(".ci/run".into(), read(".ci/run"))])
        {
            for (i, line) in text.lines().enumerate() {
                for stated in ["Rust ≥ ", "Rust >= ", "toolchain >= ", "needs Rust "] {
                    if let Some(rest) = line.split(stated).nth(1) {
                        let version: String = rest
                            .chars()
                            .take_while(|c| c.is_ascii_digit() || *c == '.')
                            .collect();
                        assert!(
                            version.is_empty() || version == msrv,
                            "{name}:{}: says {stated}{version}, Cargo.toml's rust-version is {msrv}",
                            i + 1
                        );
                    }
                }
            }
        }
    }

    /// The README's map of the documentation names every document.
    #[test]
    fn the_readme_links_every_document() {
        let readme = read("README.md");
        for (name, _) in documents().into_iter().skip(1) {
            assert!(
                readme.contains(&format!("]({name})")),
                "README.md does not link {name}"
            );
        }
    }
}
