//! Reading Velero's Backups (`velero.io/v1`, a custom resource): list (label and field
//! selectors, Table or BackupList) and get; without Velero the group is unknown, and every path
//! of it answers 404 as the API server does.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::ApiResource;
use super::list::{self, ListRequest};
use super::status::ApiError;
use super::table;
use crate::clock;
use crate::installation::Installation;
use crate::velero::{VELERO_API_VERSION, VELERO_NAMESPACE, Velero};

/// `GET /apis/velero.io/v1/namespaces/{namespace}/backups`; another namespace has none.
pub(crate) async fn list_in_namespace(
    State(installation): State<Arc<Installation>>,
    Path(namespace): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if installation.refuses(ApiResource::BACKUPS) {
        return Err(ApiError::forbidden("list", ApiResource::BACKUPS, Some(&namespace), None));
    }
    let velero = installed(&installation)?;
    list(&installation, velero, namespace == VELERO_NAMESPACE, query.as_deref(), &headers)
}

/// `GET /apis/velero.io/v1/backups`: the Backups of every namespace.
pub(crate) async fn list_all(
    State(installation): State<Arc<Installation>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if installation.refuses(ApiResource::BACKUPS) {
        return Err(ApiError::forbidden("list", ApiResource::BACKUPS, None, None));
    }
    let velero = installed(&installation)?;
    list(&installation, velero, true, query.as_deref(), &headers)
}

/// Velero, or the API server's 404 for a group it does not know.
fn installed(installation: &Installation) -> Result<&Velero, ApiError> {
    installation.velero.as_ref().ok_or_else(ApiError::path_not_found)
}

fn list(
    installation: &Installation,
    velero: &Velero,
    in_namespace: bool,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let request = ListRequest::parse(query, &["metadata.name", "metadata.namespace"])?;
    let started_at = installation.started_at;
    let backups: Vec<Value> = velero
        .backups
        .iter()
        .enumerate()
        .filter(|_| in_namespace)
        .filter(|(_, backup)| request.labels.matches(|key| backup.label(key)))
        .map(|(index, backup)| backup.to_json(started_at, velero.resource_version(index)))
        .filter(|backup| {
            request.fields.matches(|key| match key {
                "metadata.name" => backup["metadata"]["name"].as_str(),
                "metadata.namespace" => Some(VELERO_NAMESPACE),
                _ => None,
            })
        })
        .collect();
    let resource_version = (velero.resource_version(0) + 1).to_string();
    let table = || table::backup_table(&backups, &resource_version, clock::now());
    Ok(list::respond(headers, (VELERO_API_VERSION, "BackupList"), json!(backups), &resource_version, table))
}

/// `GET /apis/velero.io/v1/namespaces/{namespace}/backups/{name}`.
pub(crate) async fn get(
    State(installation): State<Arc<Installation>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    if installation.refuses(ApiResource::BACKUPS) {
        return Err(ApiError::forbidden("get", ApiResource::BACKUPS, Some(&namespace), Some(&name)));
    }
    let velero = installed(&installation)?;
    let found = (namespace == VELERO_NAMESPACE).then(|| velero.backup(&name, installation.started_at)).flatten();
    let (index, backup) = found.ok_or_else(|| ApiError::not_found_in(ApiResource::BACKUPS, &name))?;
    Ok(Json(backup.to_json(installation.started_at, velero.resource_version(index))))
}
