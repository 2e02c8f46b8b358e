//! The API's one naming style: every `/v1` request and response body is camelCase. Types
//! of this crate say so with `#[serde(rename_all = "camelCase")]`; documents whose own format
//! is snake_case (the proof core's verification report) go through [`camel_case_keys`] when
//! an answer embeds them. Proof bundles are files with their own versioned schema (version 2
//! is camelCase) and are embedded as they are.

use serde_json::{Map, Value};

/// `leaf_hash` → `leafHash`; a name without `_` is unchanged.
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Every object key in `v`, at any depth, in camelCase.
pub fn camel_case_keys(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (camel_case(&k), camel_case_keys(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(camel_case_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names_become_camel_case() {
        assert_eq!(camel_case("leaf_hash"), "leafHash");
        assert_eq!(camel_case("received_at_micros"), "receivedAtMicros");
        assert_eq!(camel_case("verdict"), "verdict");
        assert_eq!(camel_case("type"), "type");
        let v = serde_json::json!({"trust_points": [{"chain_id": 1, "summary": {"log_size": 2}}]});
        assert_eq!(
            camel_case_keys(v),
            serde_json::json!({"trustPoints": [{"chainId": 1, "summary": {"logSize": 2}}]})
        );
    }
}
