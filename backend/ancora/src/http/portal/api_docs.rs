//! `/docs/api`: the API reference for people, rendered on the server from the OpenAPI
//! document (`GET /v1/openapi.json`, [`crate::http::api::openapi`]): every operation by tag
//! with its parameters, body and answers, then every schema with its properties. Public (the
//! same facts as the document), no script.

use askama::Template;
use askama_web::WebTemplate;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{Chrome, PortalResult, Viewer};
use crate::http::api::openapi::DOCUMENT;

/// The page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/api_docs.html")]
pub struct ApiDocsPage {
    /// Layout.
    pub chrome: Chrome,
    /// The document's title, version and description.
    pub title: String,
    /// The API's version.
    pub version: String,
    /// What the API is.
    pub description: String,
    /// Operations grouped by tag, in the document's tag order.
    pub tags: Vec<TagView>,
    /// Every schema, by name.
    pub schemas: Vec<SchemaView>,
}

/// One tag and its operations.
pub struct TagView {
    /// The tag.
    pub name: String,
    /// What it covers.
    pub description: String,
    /// Its operations, by path.
    pub ops: Vec<OpView>,
}

/// One operation.
pub struct OpView {
    /// `GET`, `POST`, …
    pub method: String,
    /// `/v1/events/{id}`.
    pub path: String,
    /// The fragment id.
    pub anchor: String,
    /// One line.
    pub summary: String,
    /// More, when there is.
    pub description: String,
    /// True when an API key is needed.
    pub keyed: bool,
    /// Path, query and header parameters.
    pub params: Vec<ParamView>,
    /// The body's media type and schema, when it takes one.
    pub body: Option<(String, String)>,
    /// Every answer.
    pub responses: Vec<ResponseView>,
}

/// One parameter.
pub struct ParamView {
    /// Its name.
    pub name: String,
    /// `path`, `query` or `header`.
    pub location: String,
    /// Required or not.
    pub required: bool,
    /// Its type.
    pub ty: String,
    /// What it is.
    pub description: String,
}

/// One answer.
pub struct ResponseView {
    /// The status.
    pub status: String,
    /// What it means.
    pub description: String,
    /// Media type and schema, when it has a body.
    pub body: Option<(String, String)>,
}

/// One schema.
pub struct SchemaView {
    /// Its name (the fragment id too).
    pub name: String,
    /// What it is.
    pub description: String,
    /// Its type when it is not an object (an enum, a union).
    pub ty: String,
    /// Its properties, in order.
    pub props: Vec<PropView>,
}

/// One property.
pub struct PropView {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: String,
    /// Required or not.
    pub required: bool,
    /// What it is.
    pub description: String,
}

/// GET /docs/api.
pub async fn page(viewer: Viewer) -> PortalResult<Response> {
    let doc = &*DOCUMENT;
    Ok(ApiDocsPage {
        chrome: viewer.chrome("API reference", None, ""),
        title: text(&doc["info"]["title"]),
        version: text(&doc["info"]["version"]),
        description: text(&doc["info"]["description"]),
        tags: tags(doc),
        schemas: schemas(doc),
    }
    .into_response())
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// A schema's type in a few words: `Receipt`, `string (date-time)`, `EventInput[]`,
/// `integer | null`, `any`.
pub fn type_text(s: &Value) -> String {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = s.get(key).and_then(Value::as_array) {
            let sep = if key == "allOf" { " & " } else { " | " };
            return list.iter().map(type_text).collect::<Vec<_>>().join(sep);
        }
    }
    let types: Vec<String> = match s.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().map(text).collect(),
        _ => Vec::new(),
    };
    if types.is_empty() {
        return "any".to_owned();
    }
    let one = |t: &str| -> String {
        match t {
            "array" => format!(
                "{}[]",
                s.get("items")
                    .map(type_text)
                    .unwrap_or_else(|| "any".into())
            ),
            "null" => "null".to_owned(),
            _ => match s.get("format").and_then(Value::as_str) {
                Some(f) => format!("{t} ({f})"),
                None => t.to_owned(),
            },
        }
    };
    let mut out: Vec<String> = types.iter().map(|t| one(t)).collect();
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = e.iter().map(|v| v.to_string()).collect();
        out = vec![format!("one of {}", values.join(", "))];
    }
    out.join(" | ")
}

fn media(content: &Value) -> Option<(String, String)> {
    let (media, c) = content.as_object()?.iter().next()?;
    Some((media.clone(), type_text(&c["schema"])))
}

fn op_view(method: &str, path: &str, op: &Value) -> OpView {
    let params = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| ParamView {
            name: text(&p["name"]),
            location: text(&p["in"]),
            required: p["required"].as_bool().unwrap_or(false),
            ty: type_text(&p["schema"]),
            description: text(&p["description"]),
        })
        .collect();
    let mut responses: Vec<ResponseView> = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(status, r)| ResponseView {
            status: status.clone(),
            description: text(&r["description"]),
            body: media(&r["content"]),
        })
        .collect();
    responses.sort_by(|a, b| a.status.cmp(&b.status));
    let anchor: String = format!("{method}-{path}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    OpView {
        method: method.to_uppercase(),
        path: path.to_owned(),
        anchor,
        summary: text(&op["summary"]),
        description: text(&op["description"]),
        keyed: op.get("security").is_some(),
        params,
        body: media(&op["requestBody"]["content"]),
        responses,
    }
}

fn tags(doc: &Value) -> Vec<TagView> {
    let mut out: Vec<TagView> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| TagView {
            name: text(&t["name"]),
            description: text(&t["description"]),
            ops: Vec::new(),
        })
        .collect();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
            let view = op_view(method, path, op);
            match out.iter_mut().find(|t| t.name == tag) {
                Some(t) => t.ops.push(view),
                None => out.push(TagView {
                    name: tag,
                    description: String::new(),
                    ops: vec![view],
                }),
            }
        }
    }
    out.retain(|t| !t.ops.is_empty());
    out
}

fn schemas(doc: &Value) -> Vec<SchemaView> {
    doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| {
            let required: Vec<&str> = s["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let props = s["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(p, ps)| PropView {
                    name: p.clone(),
                    ty: type_text(ps),
                    required: required.contains(&p.as_str()),
                    description: text(&ps["description"]),
                })
                .collect::<Vec<_>>();
            SchemaView {
                name: name.clone(),
                description: text(&s["description"]),
                ty: if props.is_empty() {
                    type_text(s)
                } else {
                    String::new()
                },
                props,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_read_as_words() {
        assert_eq!(
            type_text(&json!({"$ref": "#/components/schemas/Receipt"})),
            "Receipt"
        );
        assert_eq!(
            type_text(&json!({"type": "array", "items": {"$ref": "#/x/EventInput"}})),
            "EventInput[]"
        );
        assert_eq!(
            type_text(&json!({"type": ["integer", "null"], "format": "int64"})),
            "integer (int64) | null"
        );
        assert_eq!(type_text(&json!({})), "any");
    }
}
