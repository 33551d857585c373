//! What every list request shares: its label and field selectors (refusing `watch` and fields
//! the resource cannot be selected by), and its answer, a `Table` when kubectl asks for one,
//! else a `<Kind>List`.

use axum::Json;
use axum::http::HeaderMap;
use axum::http::header::ACCEPT;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::query::QueryParams;
use super::status::ApiError;
use super::table;
use crate::selector::Selector;

/// The selectors of a list request.
pub(crate) struct ListRequest {
    pub(crate) labels: Selector,
    pub(crate) fields: Selector,
}

impl ListRequest {
    /// The request of `query`; fields outside `selectable` are refused as the API server does.
    pub(crate) fn parse(query: Option<&str>, selectable: &[&str]) -> Result<ListRequest, ApiError> {
        let params = QueryParams::parse(query);
        if params.flag("watch") {
            return Err(ApiError::bad_request("watch is not supported by the simulated API server"));
        }
        let label_selector = params.first("labelSelector").unwrap_or_default();
        let field_selector = params.first("fieldSelector").unwrap_or_default();
        let labels =
            Selector::parse_labels(label_selector).map_err(|error| ApiError::bad_request(error.to_string()))?;
        let fields =
            Selector::parse_fields(field_selector).map_err(|error| ApiError::bad_request(error.to_string()))?;
        if let Some(unknown) = fields.keys().find(|key| !selectable.contains(key)) {
            return Err(ApiError::bad_request(format!("field label not supported: {unknown}")));
        }
        tracing::debug!(%label_selector, %field_selector, "list request");
        Ok(ListRequest { labels, fields })
    }
}

/// The answer to a list: `table()` when the `Accept` header asks for a Table, else a list of
/// `items` of `(apiVersion, kind)` (`("apps/v1", "StatefulSetList")`).
pub(crate) fn respond(
    headers: &HeaderMap,
    (api_version, kind): (&str, &str),
    items: Value,
    resource_version: &str,
    table: impl FnOnce() -> Value,
) -> Response {
    let accept = headers.get(ACCEPT).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let body = if table::accepts_table(accept) {
        table()
    } else {
        json!({
            "kind": kind,
            "apiVersion": api_version,
            "metadata": { "resourceVersion": resource_version },
            "items": items,
        })
    };
    Json(body).into_response()
}
