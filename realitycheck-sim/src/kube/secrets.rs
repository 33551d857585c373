//! Reading Secrets (list with label and field selectors, Table or SecretList; get) and
//! ServiceAccounts (get).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use k8s_openapi::api::core::v1::Secret;
use serde_json::json;

use super::ApiResource;
use super::list::{self, ListRequest};
use super::status::ApiError;
use super::table;
use crate::installation::Installation;
use crate::{NAMESPACE, clock};

/// `GET /api/v1/namespaces/{namespace}/secrets`; an unknown namespace has none.
pub(crate) async fn list(
    State(installation): State<Arc<Installation>>,
    Path(namespace): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if installation.refuses(ApiResource::SECRETS) {
        return Err(ApiError::forbidden("list", ApiResource::SECRETS, Some(&namespace), None));
    }
    let request = ListRequest::parse(query.as_deref(), &["metadata.name", "metadata.namespace", "type"])?;
    let candidates = if namespace == NAMESPACE { installation.secrets.as_slice() } else { &[] };
    let secrets: Vec<Secret> = candidates
        .iter()
        .filter(|secret| request.labels.matches(|key| secret.label(key)))
        .filter(|secret| {
            request.fields.matches(|key| match key {
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
    let table = || table::secret_table(&secrets, &resource_version, clock::now());
    Ok(list::respond(&headers, ("v1", "SecretList"), json!(secrets), &resource_version, table))
}

/// `GET /api/v1/namespaces/{namespace}/secrets/{name}`.
pub(crate) async fn get(
    State(installation): State<Arc<Installation>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<Secret>, ApiError> {
    if installation.refuses(ApiResource::SECRETS) {
        return Err(ApiError::forbidden("get", ApiResource::SECRETS, Some(&namespace), Some(&name)));
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
