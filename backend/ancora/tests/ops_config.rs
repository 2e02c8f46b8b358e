//! Bad configuration stops start-up with one line naming the setting (issue 14, "Bad
//! input"): unknown `ANCORA_…` variables (with the closest known setting), values of the wrong
//! type, an unreachable database, missing or malformed secrets, unusable log settings.

use std::process::{Command, Output};

use crate::helpers::process::ancora_bin;

/// Runs `ancora ARGS` with only `env` among the `ANCORA_…` variables (and no `DATABASE_URL`
/// unless given): exit code and stderr.
pub(crate) fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(ancora_bin());
    cmd.args(args).env_remove("DATABASE_URL");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ANCORA_") {
            cmd.env_remove(k);
        }
    }
    // No embedded cluster is started by these: every case fails before it would be.
    cmd.env("ANCORA_DATA_DIR", "/nonexistent/ancora-config-test");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().expect("run ancora");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts a failed start with exactly one line on stderr holding every needle.
pub(crate) fn assert_one_line(got: (i32, String), code: i32, needles: &[&str]) -> String {
    let (c, err) = got;
    assert_eq!(c, code, "exit code; stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from {err:?}");
    }
    err
}

#[test]
fn an_unknown_ancora_variable_is_refused_naming_the_closest_setting() {
    assert_one_line(
        run(&["migrate"], &[("ANCORA_BATCH_WINDOW", "5")]),
        2,
        &[
            "unknown setting ANCORA_BATCH_WINDOW",
            "closest known setting is ANCORA_BATCH_WINDOW_MS",
        ],
    );
    // Settings of other subcommands are known too (one list for the binary), and a typo of
    // one is caught whatever the subcommand.
    assert_one_line(
        run(&["worker"], &[("ANCORA_CHAINWEB_NODE", "http://x")]),
        2,
        &["ANCORA_CHAINWEB_NODE ", "ANCORA_CHAINWEB_NODES"],
    );
    assert_one_line(
        run(&["--version"], &[("ANCORA_DB_POLL", "4")]),
        2,
        &["ANCORA_DB_POLL", "ANCORA_DB_POOL"],
    );
}

#[test]
fn known_settings_and_the_harnesses_variables_pass() {
    let (code, err) = run(
        &["--version"],
        &[
            ("ANCORA_BATCH_WINDOW_MS", "5"),
            ("ANCORA_LISTEN", "127.0.0.1:1"),
            ("ANCORA_LOG", "warn"),
            ("ANCORA_ADMIN_PASSWORD", "x"),
            ("ANCORA_E2E_TENANT", "t"),
            ("ANCORA_CRASH_KILLS", "3"),
        ],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_value_of_the_wrong_type_names_its_variable() {
    assert_one_line(
        run(&["migrate"], &[("ANCORA_DB_POOL", "many")]),
        2,
        &["ANCORA_DB_POOL", "many"],
    );
    assert_one_line(
        run(&["worker"], &[("ANCORA_ANCHOR_BACKEND", "blockchain")]),
        2,
        &["ANCORA_ANCHOR_BACKEND", "blockchain", "tlog"],
    );
    assert_one_line(
        run(&["serve"], &[("ANCORA_METRICS", "maybe")]),
        2,
        &["ANCORA_METRICS", "maybe"],
    );
    assert_one_line(
        run(&["serve"], &[("ANCORA_LISTEN", "localhost")]),
        2,
        &["ANCORA_LISTEN"],
    );
    // A flag names itself (and its variable).
    assert_one_line(
        run(&["serve", "--batch-window-ms", "soon"], &[]),
        2,
        &["ANCORA_BATCH_WINDOW_MS", "--batch-window-ms", "soon"],
    );
}

#[test]
fn unusable_log_settings_name_themselves() {
    assert_one_line(
        run(&["migrate"], &[("ANCORA_LOG_FORMAT", "yaml")]),
        2,
        &["ANCORA_LOG_FORMAT", "yaml", "json"],
    );
    assert_one_line(
        run(&["migrate"], &[("ANCORA_LOG", "info,sqlx=loud")]),
        2,
        &["ANCORA_LOG:"],
    );
}

#[test]
fn an_unreachable_database_names_database_url_without_its_password() {
    let err = assert_one_line(
        run(
            &["migrate"],
            &[
                ("DATABASE_URL", "postgres://root:hunter2@127.0.0.1:1/ancora"),
                ("ANCORA_DB_ACQUIRE_TIMEOUT_MS", "500"),
            ],
        ),
        1,
        &["DATABASE_URL", "127.0.0.1:1/ancora"],
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert_one_line(
        run(&["admin", "status"], &[("DATABASE_URL", "mysql://nowhere")]),
        1,
        &["DATABASE_URL", "not a Postgres URL"],
    );
}

#[test]
fn missing_or_malformed_secrets_name_the_setting() {
    let chainweb = [
        ("ANCORA_ANCHOR_BACKEND", "chainweb"),
        ("ANCORA_CHAINWEB_NODES", "http://127.0.0.1:1"),
    ];
    assert_one_line(
        run(&["worker"], &chainweb),
        1,
        &["ANCORA_CHAINWEB_KEY_FILE"],
    );
    let mut with_file = chainweb.to_vec();
    with_file.push(("ANCORA_CHAINWEB_KEY_FILE", "/nonexistent/key.hex"));
    assert_one_line(
        run(&["worker"], &with_file),
        1,
        &["ANCORA_CHAINWEB_KEY_FILE", "/nonexistent/key.hex"],
    );
    let mut bad_key = chainweb.to_vec();
    bad_key.push(("ANCORA_CHAINWEB_KEY", "not-hex-secret-material"));
    let err = assert_one_line(run(&["worker"], &bad_key), 1, &["ANCORA_CHAINWEB_KEY"]);
    assert!(!err.contains("not-hex-secret-material"), "{err}");
    let err = assert_one_line(
        run(
            &["serve"],
            &[("ANCORA_LOG_SIGNING_KEY", "PRIVATE+KEY+garbage-secret")],
        ),
        1,
        &["ANCORA_LOG_SIGNING_KEY"],
    );
    assert!(!err.contains("garbage-secret"), "{err}");
}

/// Every `ANCORA_…` variable the service reads outside its flags' definitions is declared in
/// `config::SETTINGS_OUTSIDE_FLAGS` (flags' `env = "…"` are found from the definitions
/// themselves), so no setting is refused as unknown.
#[test]
fn every_variable_read_outside_the_flags_is_a_known_setting() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut missing = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(src)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            for line in text.lines() {
                if line.contains("env = \"") {
                    continue;
                }
                let mut rest = line;
                while let Some(at) = rest.find("\"ANCORA_") {
                    let name: String = rest[at + 1..]
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    let closed = rest[at + 1 + name.len()..].starts_with('"');
                    rest = &rest[at + 1 + name.len()..];
                    let reads = line.contains("env::var") || line.contains("var_os");
                    if closed
                        && reads
                        && !ancora::config::SETTINGS_OUTSIDE_FLAGS.contains(&name.as_str())
                    {
                        missing.push(format!("{}: {name}", path.display()));
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "read from the environment but not in SETTINGS_OUTSIDE_FLAGS: {missing:?}"
    );
}
