//! Reading Secrets (list with label and field selectors, Table or SecretList; get) and
//! ServiceAccounts (get).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::http::header::ACCEPT;
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::core::v1::Secret;
use serde_json::json;

use super::query::QueryParams;
use super::status::ApiError;
use super::table;
use crate::installation::Installation;
use crate::selector::Selector;
use crate::{NAMESPACE, clock};

/// `GET /api/v1/namespaces/{namespace}/secrets`; an unknown namespace has none.
pub(crate) async fn list(
    State(installation): State<Arc<Installation>>,
    Path(namespace): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if installation.secrets_forbidden() {
        return Err(ApiError::forbidden("list", "secrets", &namespace));
    }
    let params = QueryParams::parse(query.as_deref());
    if params.flag("watch") {
        return Err(ApiError::bad_request("watch is not supported by the simulated API server"));
    }
    let label_selector = params.first("labelSelector").unwrap_or_default();
    let field_selector = params.first("fieldSelector").unwrap_or_default();
    let labels = Selector::parse_labels(label_selector).map_err(|error| ApiError::bad_request(error.to_string()))?;
    let fields = Selector::parse_fields(field_selector).map_err(|error| ApiError::bad_request(error.to_string()))?;
    if let Some(unknown) = fields.keys().find(|key| !["metadata.name", "metadata.namespace", "type"].contains(key)) {
        return Err(ApiError::bad_request(format!("field label not supported: {unknown}")));
    }
    let candidates = if namespace == NAMESPACE { installation.secrets.as_slice() } else { &[] };
    let secrets: Vec<Secret> = candidates
        .iter()
        .filter(|secret| labels.matches(|key| secret.label(key)))
        .filter(|secret| {
            fields.matches(|key| match key {
                "metadata.name" => Some(secret.name.as_str()),
                "metadata.namespace" => Some(NAMESPACE),
                "type" => Some(secret.type_.as_str()),
                _ => None,
            })
        })
        .map(|secret| secret.to_secret(installation.started_at))
        .collect();
    let resource_version =
        (installation.secrets.iter().map(|secret| secret.resource_version).max().unwrap_or_default() + 1).to_string();
    let accept = headers.get(ACCEPT).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let body = if table::accepts_table(accept) {
        table::secret_table(&secrets, &resource_version, clock::now())
    } else {
        json!({
            "kind": "SecretList",
            "apiVersion": "v1",
            "metadata": { "resourceVersion": resource_version },
            "items": secrets,
        })
    };
    Ok(Json(body).into_response())
}

/// `GET /api/v1/namespaces/{namespace}/secrets/{name}`.
pub(crate) async fn get(
    State(installation): State<Arc<Installation>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<Secret>, ApiError> {
    if installation.secrets_forbidden() {
        return Err(ApiError::forbidden("get", "secrets", &namespace));
    }
    let secret = (namespace == NAMESPACE).then(|| installation.secret(&name)).flatten();
    let secret = secret.ok_or_else(|| ApiError::object_not_found("secrets", &name))?;
    Ok(Json(secret.to_secret(installation.started_at)))
}

/// `GET /api/v1/namespaces/{namespace}/serviceaccounts/{name}`.
pub(crate) async fn get_service_account(
    State(installation): State<Arc<Installation>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<k8s_openapi::api::core::v1::ServiceAccount>, ApiError> {
    let account = (namespace == NAMESPACE).then(|| installation.service_account(&name)).flatten();
    Ok(Json(account.ok_or_else(|| ApiError::object_not_found("serviceaccounts", &name))?))
}
