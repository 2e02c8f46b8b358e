//! The node double's tiny Pact: enough to run what Ancora sends.
//!
//! * code that is a single string literal (`"hello"`) returns that string;
//! * `(ancora-anchor.record-anchor "<id>" "<root>")`, optionally namespaced
//!   (`free.ancora-anchor.record-anchor`), returns the root and emits `ANCHORED(id, root)`,
//!   and fails like the contract when the id was already recorded on the chain.
//!
//! Anything else fails with an "unsupported" message. Gas is a fixed price per form; a gas
//! limit below it fails with Pact's gas message, as can a forced gas error.

use serde_json::{Value, json};

/// Gas charged for a string literal.
pub const GAS_LITERAL: u64 = 1;
/// Gas charged for `record-anchor`.
pub const GAS_RECORD_ANCHOR: u64 = 300;

/// What a piece of code does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    /// A string literal.
    Literal(String),
    /// `record-anchor id root`, with the module's namespace if any.
    RecordAnchor {
        /// The namespace written before the module name.
        namespace: Option<String>,
        /// The anchor id.
        id: String,
        /// The Merkle root.
        root: String,
    },
}

/// The outcome of running one command: `result`, gas used and events.
pub struct Outcome {
    /// `{"status": …, "data"|"error": …}`.
    pub result: Value,
    /// Gas used.
    pub gas: u64,
    /// Events emitted.
    pub events: Vec<Value>,
    /// The anchor id recorded, on success.
    pub anchored: Option<String>,
}

/// Parses `code` as one of the supported forms.
pub fn parse(code: &str) -> Result<Program, String> {
    let t = code.trim();
    if t.starts_with('"') {
        let (s, rest) = string_literal(t)?;
        return if rest.trim().is_empty() {
            Ok(Program::Literal(s))
        } else {
            Err("unsupported Pact code: text after the string literal".to_owned())
        };
    }
    let body = t
        .strip_prefix('(')
        .and_then(|b| b.strip_suffix(')'))
        .ok_or_else(unsupported)?
        .trim_start();
    let name_end = body.find(char::is_whitespace).ok_or_else(unsupported)?;
    let (name, rest) = body.split_at(name_end);
    let namespace = match name.strip_suffix("ancora-anchor.record-anchor") {
        Some("") => None,
        Some(ns) => Some(ns.strip_suffix('.').ok_or_else(unsupported)?.to_owned()),
        None => return Err(unsupported()),
    };
    let (id, rest) = string_literal(rest.trim_start())?;
    let (root, rest) = string_literal(rest.trim_start())?;
    if !rest.trim().is_empty() {
        return Err("record-anchor takes exactly two string arguments".to_owned());
    }
    Ok(Program::RecordAnchor {
        namespace,
        id,
        root,
    })
}

fn unsupported() -> String {
    "unsupported Pact code: the testkit runs a string literal or (ancora-anchor.record-anchor \"id\" \"root\")".to_owned()
}

/// A Pact string literal at the start of `s`: the value and the text after it.
fn string_literal(s: &str) -> Result<(String, &str), String> {
    let mut chars = s.char_indices();
    if !matches!(chars.next(), Some((_, '"'))) {
        return Err("expected a string literal".to_owned());
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, e @ ('"' | '\\'))) => out.push(e),
                _ => return Err("unsupported escape in string literal".to_owned()),
            },
            c => out.push(c),
        }
    }
    Err("unterminated string literal".to_owned())
}

/// Runs `code` with `gas_limit`; `is_recorded` says whether an anchor id is already on the
/// chain; `force_gas_error` makes it fail as if out of gas.
pub fn run(
    code: &str,
    gas_limit: u64,
    force_gas_error: bool,
    is_recorded: impl Fn(&str) -> bool,
) -> Outcome {
    let program = match parse(code) {
        Ok(p) => p,
        Err(m) => return failure(m, "EvalError", GAS_LITERAL.min(gas_limit)),
    };
    let cost = match program {
        Program::Literal(_) => GAS_LITERAL,
        Program::RecordAnchor { .. } => GAS_RECORD_ANCHOR,
    };
    if force_gas_error || gas_limit < cost {
        let used = if force_gas_error {
            gas_limit.max(1) + cost
        } else {
            cost
        };
        return failure(
            format!("Gas limit ({gas_limit}) exceeded: {used}"),
            "GasError",
            gas_limit,
        );
    }
    match program {
        Program::Literal(s) => Outcome {
            result: json!({ "status": "success", "data": s }),
            gas: cost,
            events: Vec::new(),
            anchored: None,
        },
        Program::RecordAnchor {
            namespace,
            id,
            root,
        } => {
            if is_recorded(&id) {
                return failure(
                    format!("anchor {id} is already recorded"),
                    "TxFailure",
                    cost,
                );
            }
            Outcome {
                result: json!({ "status": "success", "data": root }),
                gas: cost,
                events: vec![json!({
                    "params": [id, root],
                    "name": "ANCHORED",
                    "module": { "namespace": namespace, "name": "ancora-anchor" },
                    "moduleHash": "ancora-testkit-module-hash-000000000000000"
                })],
                anchored: Some(id),
            }
        }
    }
}

fn failure(message: String, kind: &str, gas: u64) -> Outcome {
    Outcome {
        result: json!({
            "status": "failure",
            "error": { "callStack": [], "type": kind, "message": message, "info": "" }
        }),
        gas,
        events: Vec::new(),
        anchored: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supported_forms_parse_and_others_do_not() {
        assert_eq!(
            parse(r#" "a \"b\"" "#),
            Ok(Program::Literal("a \"b\"".into()))
        );
        assert_eq!(
            parse(r#"(free.ancora-anchor.record-anchor "b-1" "r")"#),
            Ok(Program::RecordAnchor {
                namespace: Some("free".into()),
                id: "b-1".into(),
                root: "r".into()
            })
        );
        for bad in [
            "(+ 1 2)",
            "\"x",
            "(ancora-anchor.record-anchor \"a\")",
            "(xancora-anchor.record-anchor \"a\" \"b\")",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
