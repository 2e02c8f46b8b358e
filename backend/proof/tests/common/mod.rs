//! Helpers shared by the integration tests: loading the real Chainweb vectors.
#![allow(dead_code)]

use std::path::PathBuf;

/// The folder holding the vectors: `tests/vectors/` in this crate, exact copies of the
/// project's shared vectors (a test checks they still match when `../shared/vectors` exists).
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// Parses one vector file as JSON.
pub fn load(name: &str) -> serde_json::Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read vector {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("vector {name} is not JSON: {e}"))
}

/// The shared vectors folder beside the repository, when present.
pub fn shared_vectors_dir() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors");
    p.is_dir().then_some(p)
}

#[test]
fn the_vendored_vectors_are_exact_copies_of_the_shared_ones() {
    let Some(shared) = shared_vectors_dir() else {
        return;
    };
    for entry in std::fs::read_dir(&shared).expect("shared vectors readable") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        let ours = std::fs::read(vectors_dir().join(&name))
            .unwrap_or_else(|_| panic!("vector {name:?} missing from tests/vectors"));
        let theirs = std::fs::read(entry.path()).expect("shared vector readable");
        assert_eq!(ours, theirs, "vector {name:?} differs from the shared copy");
    }
}
