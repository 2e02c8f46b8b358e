//! The layers of the service crate, checked on its source. THE RULE, written once:
//!
//! Inside `backend/ancora/src`, imports point one way, top to bottom; a file may use its own
//! layer and the layers below it, never one above:
//!
//! 1. process:    `main.rs`, `lib.rs`, `server.rs`, `bootstrap.rs`, `admin.rs`, `cli_offline.rs`,
//!    `cli_monitor.rs`, `embedded_pg.rs` — the CLI, start-up and shut-down, the embedded Postgres;
//! 2. interfaces: `http/`, `workers/` — they translate; and the two never import each other;
//! 3. app:        `app.rs`, `config.rs` — the one application state and the parsed
//!    configuration: the process builds them and hands them down, and the interfaces name
//!    their types (so they sit under the interfaces and over the services they hold);
//! 4. services:   `services/` — what the product does, each with its own error type;
//! 5. db:         `db/` — all SQL;
//! 6. domain:     `domain/`, `support/` — newtypes and plumbing (metrics, shutdown).
//!
//! A file in no layer fails the test too, so a new top-level module must be placed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Layer of a path relative to `src/` (smaller is higher), or `None` when unplaced.
fn layer_of(rel: &str) -> Option<(usize, &'static str)> {
    const LAYERS: [(&str, &[&str]); 6] = [
        (
            "process",
            &[
                "main.rs",
                "lib.rs",
                "server.rs",
                "bootstrap.rs",
                "admin.rs",
                "cli_offline.rs",
                "cli_monitor.rs",
                "embedded_pg.rs",
            ],
        ),
        ("interfaces", &["http/", "workers/"]),
        ("app", &["app.rs", "config.rs"]),
        ("services", &["services/"]),
        ("db", &["db/"]),
        ("domain", &["domain/", "support/"]),
    ];
    LAYERS.iter().enumerate().find_map(|(i, (name, members))| {
        members
            .iter()
            .any(|m| {
                if m.ends_with('/') {
                    rel.starts_with(m) || format!("{rel}/") == *m
                } else {
                    rel == *m || rel == m.trim_end_matches(".rs")
                }
            })
            .then_some((i, *name))
    })
}

/// The top-level module a `crate::` path names, as a path relative to `src/`.
fn module_path(module: &str) -> String {
    match module {
        "http" | "workers" | "services" | "db" | "domain" | "support" => format!("{module}/"),
        other => format!("{other}.rs"),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every top-level module a source text uses through `crate::…` (comments skipped, also the
/// `crate::{a, b}` form).
fn crate_uses(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for part in inner.split(',') {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != "self" {
                        used.insert(name);
                    }
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    used.insert(name);
                }
            }
            rest = after;
        }
    }
    used
}

/// Every import that breaks the rule, as `file: uses module (layer → layer)`.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let Some((from, from_name)) = layer_of(&rel) else {
            found.push(format!("{rel}: in no layer (add it to the rule)"));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("source is readable");
        for module in crate_uses(&text) {
            let target = module_path(&module);
            let Some((to, to_name)) = layer_of(&target) else {
                found.push(format!("{rel}: uses crate::{module}, which is in no layer"));
                continue;
            };
            let sideways = from_name == "interfaces"
                && to_name == "interfaces"
                && rel.split('/').next() != target.split('/').next();
            if to < from || sideways {
                found.push(format!(
                    "{rel}: uses crate::{module} ({from_name} → {to_name})"
                ));
            }
        }
    }
    found
}

#[test]
fn imports_in_the_service_crate_point_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports that break the layering (see the rule at the top of tests/architecture.rs):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checker_catches_an_upward_import_a_sideways_one_and_an_unplaced_file() {
    // Arrange: a small tree that breaks each rule once, and keeps it once.
    let dir = std::env::temp_dir().join(format!("ancora-arch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in [
        ("db/events.rs", "use crate::workers::queue;\n"),
        ("services/ingest.rs", "use crate::{db, http::ApiError};\n"),
        (
            "workers/batch.rs",
            "// crate::http in a comment is fine\nuse crate::http::AppState;\n",
        ),
        (
            "http/api.rs",
            "use crate::services::ingest;\nuse crate::app::AppState;\n",
        ),
        ("app.rs", "use crate::http::router;\n"),
        ("stray.rs", "\n"),
    ] {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    // Act
    let found = violations(&dir);
    let _ = std::fs::remove_dir_all(&dir);

    // Assert
    assert_eq!(
        found,
        vec![
            "app.rs: uses crate::http (app → interfaces)".to_owned(),
            "db/events.rs: uses crate::workers (db → interfaces)".to_owned(),
            "services/ingest.rs: uses crate::http (services → interfaces)".to_owned(),
            "stray.rs: in no layer (add it to the rule)".to_owned(),
            "workers/batch.rs: uses crate::http (interfaces → interfaces)".to_owned(),
        ]
    );
}
