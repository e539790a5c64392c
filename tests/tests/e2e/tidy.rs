//! The house rules ARCHITECTURE.md states, checked: geodata stays pure, and every source file
//! says what it is for in a `//!` line.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("readable directory")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn geodata_depends_on_no_database_http_or_async_crate() {
    let manifest = std::fs::read_to_string(workspace().join("geodata/Cargo.toml"))
        .expect("geodata/Cargo.toml");
    for forbidden in ["sea-orm", "actix", "async-graphql", "tokio"] {
        assert!(
            !manifest
                .lines()
                .any(|l| l.trim_start().starts_with(forbidden)),
            "geodata depends on {forbidden}"
        );
    }
}

#[test]
fn every_source_file_opens_with_a_module_doc() {
    let mut files = Vec::new();
    for krate in ["api", "entity", "migration", "geodata", "tests"] {
        for dir in ["src", "tests", "benches"] {
            let dir = workspace().join(krate).join(dir);
            if dir.is_dir() {
                rust_files(&dir, &mut files);
            }
        }
    }
    assert!(files.len() > 20, "found only {} files", files.len());
    let undocumented: Vec<String> = files
        .iter()
        .filter(|path| {
            !std::fs::read_to_string(path)
                .unwrap_or_default()
                .starts_with("//!")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        undocumented.is_empty(),
        "files without a //! doc: {undocumented:#?}"
    );
}
