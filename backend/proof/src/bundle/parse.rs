//! Parsing a bundle (version 1 or 2) with errors that say which section is wrong.

use serde::Deserialize as _;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::wire::{v1, v2};
use super::{BUNDLE_VERSION_V1, BUNDLE_VERSION_V2, Bundle, TrustPoint, check_trust_points};
use crate::Error;

const SECTIONS_V1: [&str; 4] = ["event", "batch", "anchor", "trust_point"];
const SECTIONS_V2: [&str; 4] = ["event", "batch", "anchor", "trustPoints"];

pub(super) fn parse(bytes: &[u8]) -> Result<Bundle, Error> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::BadJson(format!("the bundle is not JSON: {e}")))?;
    from_value(value)
}

pub(super) fn from_value(value: Value) -> Result<Bundle, Error> {
    let Value::Object(map) = value else {
        return Err(Error::BadJson(
            "the bundle must be a JSON object with a \"version\" field".into(),
        ));
    };
    let version = match map.get("version") {
        None => {
            return Err(Error::Invalid(
                "no \"version\" field: this is not an Ancora proof bundle".into(),
            ));
        }
        Some(v) => v,
    };
    match version.as_u64() {
        Some(1) => parse_v1(&map),
        Some(2) => parse_v2(&map),
        _ => Err(Error::Invalid(format!(
            "bundle version {version} is not supported: this verifier reads versions {BUNDLE_VERSION_V1} and {BUNDLE_VERSION_V2}"
        ))),
    }
}

fn no_unknown_sections(
    map: &Map<String, Value>,
    known: &[&str],
    version: u32,
) -> Result<(), Error> {
    match map
        .keys()
        .find(|k| *k != "version" && !known.contains(&k.as_str()))
    {
        Some(k) => Err(Error::BadJson(format!(
            "unknown field {k:?} in a version-{version} bundle"
        ))),
        None => Ok(()),
    }
}

fn parse_v1(map: &Map<String, Value>) -> Result<Bundle, Error> {
    no_unknown_sections(map, &SECTIONS_V1, BUNDLE_VERSION_V1)?;
    Ok(Bundle {
        version: BUNDLE_VERSION_V1,
        event: section(map, "event")?,
        batch: section(map, "batch")?,
        anchor: section(map, "anchor")?,
        trust_points: vec![section::<v1::TrustPoint>(map, "trust_point")?.into()],
    })
}

fn parse_v2(map: &Map<String, Value>) -> Result<Bundle, Error> {
    no_unknown_sections(map, &SECTIONS_V2, BUNDLE_VERSION_V2)?;
    let event: v2::Event = section(map, "event")?;
    let batch: v2::Batch = section(map, "batch")?;
    let anchor: v2::Anchor = section(map, "anchor")?;
    let trust_points = trust_points_v2(map)?;
    check_trust_points(BUNDLE_VERSION_V2, &trust_points)?;
    Ok(Bundle {
        version: BUNDLE_VERSION_V2,
        event: event.into(),
        batch: batch.into(),
        anchor: anchor.into(),
        trust_points,
    })
}

/// `trustPoints`, entry by entry, so that an error names the entry and its type.
fn trust_points_v2(map: &Map<String, Value>) -> Result<Vec<TrustPoint>, Error> {
    let name = "trustPoints";
    let entries = match map.get(name) {
        None => return Err(Error::BadJson(format!("missing field \"{name}\""))),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(Error::BadJson(format!(
                "{name} must be an array of 1 or 2 trust points"
            )));
        }
    };
    if entries.len() > 2 {
        return Err(Error::Invalid(format!(
            "{name} holds {} trust points: at most 2 (one tlog, one chainweb)",
            entries.len()
        )));
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let at = format!("{name}[{i}]");
            let Value::Object(obj) = entry else {
                return Err(Error::BadJson(format!("{at} must be a JSON object")));
            };
            let mut rest = obj.clone();
            let kind = match rest.remove("type") {
                None => return Err(Error::BadJson(format!("{at}: missing field \"type\""))),
                Some(Value::String(s)) => s,
                Some(other) => {
                    return Err(Error::BadJson(format!(
                        "{at}: \"type\" must be \"tlog\" or \"chainweb\", not {other}"
                    )));
                }
            };
            let rest = Value::Object(rest);
            let fail = |e: serde_json::Error| Error::BadJson(format!("{at} ({kind}): {e}"));
            match kind.as_str() {
                "tlog" => v2::Tlog::deserialize(rest)
                    .map(TrustPoint::from)
                    .map_err(fail),
                "chainweb" => v2::Chainweb::deserialize(rest)
                    .map(TrustPoint::from)
                    .map_err(fail),
                other => Err(Error::BadJson(format!(
                    "{at}: unknown trust point type {other:?} (expected \"tlog\" or \"chainweb\")"
                ))),
            }
        })
        .collect()
}

fn section<T: DeserializeOwned>(map: &Map<String, Value>, name: &str) -> Result<T, Error> {
    let v = map
        .get(name)
        .ok_or_else(|| Error::BadJson(format!("missing field \"{name}\"")))?;
    T::deserialize(v).map_err(|e| Error::BadJson(format!("{name}: {e}")))
}
