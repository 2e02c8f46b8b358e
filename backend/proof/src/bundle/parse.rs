//! Parsing a bundle with errors that say which section is wrong.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{BUNDLE_VERSION, Bundle};
use crate::Error;

const SECTIONS: [&str; 4] = ["event", "batch", "anchor", "trust_point"];

pub(super) fn parse(bytes: &[u8]) -> Result<Bundle, Error> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::BadJson(format!("the bundle is not JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(Error::BadJson(
            "the bundle must be a JSON object with a \"version\" field".into(),
        ));
    };
    match map.get("version") {
        None => {
            return Err(Error::Invalid(
                "no \"version\" field: this is not an Ancora proof bundle".into(),
            ));
        }
        Some(v) if v.as_u64() == Some(u64::from(BUNDLE_VERSION)) => {}
        Some(v) => {
            return Err(Error::Invalid(format!(
                "bundle version {v} is not supported: this verifier reads version {BUNDLE_VERSION}"
            )));
        }
    }
    if let Some(k) = map
        .keys()
        .find(|k| *k != "version" && !SECTIONS.contains(&k.as_str()))
    {
        return Err(Error::BadJson(format!(
            "unknown field {k:?} in a version-{BUNDLE_VERSION} bundle"
        )));
    }
    Ok(Bundle {
        version: BUNDLE_VERSION,
        event: section(&map, "event")?,
        batch: section(&map, "batch")?,
        anchor: section(&map, "anchor")?,
        trust_point: section(&map, "trust_point")?,
    })
}

fn section<T: DeserializeOwned>(map: &Map<String, Value>, name: &str) -> Result<T, Error> {
    let v = map
        .get(name)
        .ok_or_else(|| Error::BadJson(format!("missing field \"{name}\"")))?;
    T::deserialize(v).map_err(|e| Error::BadJson(format!("{name}: {e}")))
}
