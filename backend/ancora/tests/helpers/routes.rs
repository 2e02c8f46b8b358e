//! The `/v1` routes as the code declares them: every `.route("PATH", METHOD(handler)…)` in
//! `src/http/api/`, read from the source so that a test covering "every route" fails when a
//! route is added without it.

use std::collections::BTreeSet;
use std::path::Path;

/// `(METHOD, /v1/path)` of every API route, `{param}` as written in the router.
pub fn api_routes() -> BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/api");
    let mut out = BTreeSet::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("src/http/api")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for (method, path) in routes_in(&text) {
            out.insert((method, format!("/v1{path}")));
        }
    }
    assert!(!out.is_empty(), "no route found under {}", dir.display());
    out
}

/// The routes declared in one file's text.
pub fn routes_in(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(".route(") {
        let call = &rest[at + ".route(".len()..];
        let end = closing_paren(call).expect("balanced .route( call");
        let args = &call[..end];
        rest = &call[end..];
        let Some(q1) = args.find('"') else { continue };
        let Some(q2) = args[q1 + 1..].find('"') else {
            continue;
        };
        let path = &args[q1 + 1..q1 + 1 + q2];
        let handlers = &args[q1 + 2 + q2..];
        for method in ["get", "post", "put", "delete", "patch"] {
            let mut h = handlers;
            while let Some(i) = h.find(&format!("{method}(")) {
                let before = h[..i].chars().last();
                if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                    out.push((method.to_uppercase(), path.to_owned()));
                    break;
                }
                h = &h[i + 1..];
            }
        }
    }
    out
}

fn closing_paren(s: &str) -> Option<usize> {
    let mut depth = 1;
    let mut in_str = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '(' if !in_str => depth += 1,
            ')' if !in_str => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[test]
fn routes_are_read_with_every_method() {
    let text = r#"Router::new()
        .route("/events", post(submit).get(find_by_digest))
        .route("/events/{id}",
            get(show))
        .route("/things/{id}", delete(remove))"#;
    assert_eq!(
        routes_in(text),
        vec![
            ("GET".into(), "/events".into()),
            ("POST".into(), "/events".into()),
            ("GET".into(), "/events/{id}".into()),
            ("DELETE".into(), "/things/{id}".into()),
        ]
    );
}
