//! Reading StatefulSets (`apps/v1`): list (label and field selectors, Table or
//! StatefulSetList) and get, their status counted from the pods they run.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use k8s_openapi::api::apps::v1::StatefulSet;
use serde_json::json;

use super::ApiResource;
use super::list::{self, ListRequest};
use super::status::ApiError;
use super::table;
use crate::installation::Installation;
use crate::statefulsets::ReleaseStatefulSet;
use crate::{NAMESPACE, clock};

/// `GET /apis/apps/v1/namespaces/{namespace}/statefulsets`; an unknown namespace has none.
pub(crate) async fn list_in_namespace(
    State(installation): State<Arc<Installation>>,
    Path(namespace): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if installation.refuses(ApiResource::STATEFULSETS) {
        return Err(ApiError::forbidden("list", ApiResource::STATEFULSETS, Some(&namespace), None));
    }
    let candidates = if namespace == NAMESPACE { installation.statefulsets.as_slice() } else { &[] };
    list(&installation, candidates, query.as_deref(), &headers)
}

/// `GET /apis/apps/v1/statefulsets`: the StatefulSets of every namespace.
pub(crate) async fn list_all(
    State(installation): State<Arc<Installation>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if installation.refuses(ApiResource::STATEFULSETS) {
        return Err(ApiError::forbidden("list", ApiResource::STATEFULSETS, None, None));
    }
    list(&installation, &installation.statefulsets, query.as_deref(), &headers)
}

fn list(
    installation: &Installation,
    candidates: &[ReleaseStatefulSet],
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let request = ListRequest::parse(query, &["metadata.name", "metadata.namespace"])?;
    let statefulsets: Vec<StatefulSet> = candidates
        .iter()
        .filter(|statefulset| request.labels.matches(|key| statefulset.label(key)))
        .filter(|statefulset| {
            request.fields.matches(|key| match key {
                "metadata.name" => Some(statefulset.name.as_str()),
                "metadata.namespace" => Some(NAMESPACE),
                _ => None,
            })
        })
        .map(|statefulset| statefulset.to_statefulset(&installation.pods, installation.started_at))
        .collect();
    let newest = installation.statefulsets.iter().map(|statefulset| statefulset.resource_version).max();
    let resource_version = (newest.unwrap_or_default() + 1).to_string();
    let table = || table::statefulset_table(&statefulsets, &resource_version, clock::now());
    Ok(list::respond(headers, ("apps/v1", "StatefulSetList"), json!(statefulsets), &resource_version, table))
}

/// `GET /apis/apps/v1/namespaces/{namespace}/statefulsets/{name}`.
pub(crate) async fn get(
    State(installation): State<Arc<Installation>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<StatefulSet>, ApiError> {
    if installation.refuses(ApiResource::STATEFULSETS) {
        return Err(ApiError::forbidden("get", ApiResource::STATEFULSETS, Some(&namespace), Some(&name)));
    }
    let statefulset = (namespace == NAMESPACE).then(|| installation.statefulset(&name)).flatten();
    let statefulset = statefulset.ok_or_else(|| ApiError::not_found_in(ApiResource::STATEFULSETS, &name))?;
    Ok(Json(statefulset.to_statefulset(&installation.pods, installation.started_at)))
}
