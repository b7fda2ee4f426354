//! The OpenAPI document and its human-readable reference page. The page is rendered here
//! from the same document (no Swagger UI, no CDN, no script), so it cannot drift from the API
//! and works offline.

use super::ApiDoc;
use crate::templates::render;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Serialize;
use serde_json::Value;
use utoipa::OpenApi;

/// The document, built once.
pub fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null)
}

pub async fn openapi_json() -> Response {
    let body = serde_json::to_string_pretty(&document()).unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[derive(Serialize)]
struct Op {
    method: String,
    path: String,
    anchor: String,
    summary: String,
    description: String,
    tag: String,
    params: Vec<String>,
    body: Option<String>,
    responses: Vec<String>,
}

/// `#/components/schemas/Name` → `Name`; inline schemas → their type.
fn schema_name(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    if let Some(items) = v.get("items") {
        return format!("array of {}", schema_name(items));
    }
    v.get("type")
        .map(|t| match t {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| "object".into())
}

fn content_schema(v: &Value) -> Option<String> {
    let content = v.get("content")?.as_object()?;
    let (ctype, media) = content.iter().next()?;
    Some(format!(
        "{} ({ctype})",
        media.get("schema").map(schema_name).unwrap_or_default()
    ))
}

fn operations(doc: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return ops;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            let text = |k: &str| op.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let params = op
                .get("parameters")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("");
                            let d = s("description");
                            format!(
                                "{} ({}){}{}",
                                s("name"),
                                s("in"),
                                if d.is_empty() { "" } else { ": " },
                                d
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let responses = op
                .get("responses")
                .and_then(Value::as_object)
                .map(|rs| {
                    rs.iter()
                        .map(|(code, r)| {
                            let desc = r.get("description").and_then(Value::as_str).unwrap_or("");
                            match content_schema(r) {
                                Some(s) => format!("{code} {desc} — {s}"),
                                None => format!("{code} {desc}"),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            ops.push(Op {
                method: method.to_uppercase(),
                anchor: format!("{method}-{path}")
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect(),
                path: path.clone(),
                summary: text("summary"),
                description: text("description"),
                tag: op
                    .get("tags")
                    .and_then(|t| t.get(0))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                params,
                body: op.get("requestBody").and_then(content_schema),
                responses,
            });
        }
    }
    ops.sort_by(|a, b| (&a.tag, &a.path).cmp(&(&b.tag, &b.path)));
    ops
}

pub async fn reference() -> Response {
    let doc = document();
    let info = doc.get("info").cloned().unwrap_or(Value::Null);
    let version = doc
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let schemas: Vec<String> = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    render(
        "api_docs.html",
        context! { wide => true, info, version, ops => operations(&doc), schemas },
    )
    .into_response()
}
