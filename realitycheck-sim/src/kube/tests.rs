//! The API server's routes for StatefulSets, Velero's Backups, their discovery and RBAC
//! refusals, through the router as a client reaches them.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::header::ACCEPT;
use axum::http::{Request, StatusCode};
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;
use tower::ServiceExt;

use super::{ApiResource, router};
use crate::execution::fleet::{Fleet, SharedFleet};
use crate::installation::Installation;
use crate::scenario::Scenario;
use crate::velero::BACKUP_SCHEDULE;
use crate::version::{Deployment, NomadServers, ServerVersion};

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

fn started_at() -> Timestamp {
    "2025-03-01T12:00:00Z".parse().unwrap()
}

fn installation(scenario: Scenario, server_version: ServerVersion, nomad_servers: NomadServers) -> Installation {
    Installation::deployed(scenario, Deployment { server_version, nomad_servers }, started_at()).unwrap()
}

fn app(installation: Installation) -> Router {
    let fleet = SharedFleet::new(Fleet::new(&installation, tokio::time::Instant::now()));
    router(Arc::new(installation), fleet)
}

async fn request(app: &Router, uri: &str, accept: &str) -> (StatusCode, Value) {
    let request = Request::get(uri).header(ACCEPT, accept).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}")))
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    request(app, uri, "application/json").await
}

fn names(list: &Value) -> Vec<&str> {
    list["items"].as_array().unwrap().iter().map(|item| item["metadata"]["name"].as_str().unwrap()).collect()
}

const STATEFULSETS: &str = "/apis/apps/v1/namespaces/circleci-server/statefulsets";
const BACKUPS: &str = "/apis/velero.io/v1/namespaces/velero/backups";

#[tokio::test]
async fn statefulsets_are_listed_selected_and_got() {
    // Started now: the Table's ages are computed at the wall clock's time.
    let deployment = Deployment { server_version: ServerVersion::V4_9, nomad_servers: NomadServers::Internal };
    let app = app(Installation::deployed(Scenario::Healthy, deployment, crate::clock::now()).unwrap());
    let (status, list) = get(&app, STATEFULSETS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((list["apiVersion"].as_str(), list["kind"].as_str()), (Some("apps/v1"), Some("StatefulSetList")));
    assert_eq!(names(&list), ["nomad-server", "mongodb", "postgresql", "rabbitmq", "redis", "circleci-vault"]);

    let (_, mongodb) = get(&app, &format!("{STATEFULSETS}?labelSelector=app.kubernetes.io%2Fname%3Dmongodb")).await;
    assert_eq!(names(&mongodb), ["mongodb"]);
    let mongodb = &mongodb["items"][0];
    let container = &mongodb["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "mongodb");
    assert_eq!(container["image"], "cciserver.azurecr.io/server-mongodb:4.4.15-debian-10-r8");
    assert_eq!(mongodb["spec"]["replicas"], 1);
    assert_eq!(mongodb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"], "mongodb");
    assert_eq!(mongodb["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"], "mongodb");
    let counts = &mongodb["status"];
    for field in ["replicas", "readyReplicas", "currentReplicas", "updatedReplicas"] {
        assert_eq!(counts[field], 1, "{field}");
    }

    let (_, sets) =
        get(&app, &format!("{STATEFULSETS}?labelSelector=app.kubernetes.io%2Fname+in+(postgresql,rabbitmq)")).await;
    assert_eq!(names(&sets), ["postgresql", "rabbitmq"]);
    let (_, redis) =
        get(&app, &format!("{STATEFULSETS}?labelSelector=app%3Dredis&fieldSelector=metadata.name%3Dredis")).await;
    assert_eq!(names(&redis), ["redis"]);
    let (status, _) = get(&app, &format!("{STATEFULSETS}?labelSelector=app+in+(redis")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, elsewhere) = get(&app, "/apis/apps/v1/namespaces/default/statefulsets").await;
    assert!(names(&elsewhere).is_empty());
    let (_, everywhere) = get(&app, "/apis/apps/v1/statefulsets").await;
    assert_eq!(names(&everywhere).len(), 6);

    let (status, nomad) = get(&app, &format!("{STATEFULSETS}/nomad-server")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((nomad["spec"]["replicas"].as_i64(), nomad["status"]["readyReplicas"].as_i64()), (Some(5), Some(5)));
    assert_eq!(nomad["spec"]["template"]["spec"]["containers"][0]["image"], "hashicorp/nomad:1.11.3");
    let (status, missing) = get(&app, &format!("{STATEFULSETS}/cassandra")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["message"], "statefulsets.apps \"cassandra\" not found");
    assert_eq!(missing["details"]["group"], "apps");
    let (status, _) = get(&app, "/apis/apps/v1/namespaces/default/statefulsets/mongodb").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, table) = request(&app, STATEFULSETS, TABLE).await;
    assert_eq!(table["kind"], "Table");
    let columns: Vec<&str> =
        table["columnDefinitions"].as_array().unwrap().iter().map(|column| column["name"].as_str().unwrap()).collect();
    assert_eq!(columns, ["Name", "Ready", "Age", "Containers", "Images"]);
    let cells: Vec<String> = serde_json::from_value(table["rows"][0]["cells"].clone()).unwrap();
    assert_eq!(cells[..3], ["nomad-server", "5/5", "12d"]);
    assert_eq!(table["rows"][1]["cells"][4], "cciserver.azurecr.io/server-mongodb:4.4.15-debian-10-r8");
}

#[tokio::test]
async fn the_nomad_servers_statefulset_is_there_only_when_they_run_in_the_cluster() {
    let app = app(installation(Scenario::Healthy, ServerVersion::V4_10, NomadServers::External));
    let (_, list) = get(&app, STATEFULSETS).await;
    assert!(!names(&list).contains(&"nomad-server"), "{list}");
    let (status, _) = get(&app, &format!("{STATEFULSETS}/nomad-server")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn discovery_lists_apps_and_velero() {
    let app = app(installation(Scenario::Healthy, ServerVersion::V4_10, NomadServers::Internal));
    let (_, groups) = get(&app, "/apis").await;
    assert_eq!(groups["kind"], "APIGroupList");
    let names: Vec<&str> =
        groups["groups"].as_array().unwrap().iter().map(|group| group["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["apps", "velero.io"]);
    assert_eq!(groups["groups"][1]["preferredVersion"]["groupVersion"], "velero.io/v1");
    let (_, apps) = get(&app, "/apis/apps").await;
    assert_eq!(apps["versions"][0]["version"], "v1");

    let (_, apps_v1) = get(&app, "/apis/apps/v1").await;
    assert_eq!(apps_v1["groupVersion"], "apps/v1");
    let statefulsets = &apps_v1["resources"][0];
    assert_eq!(
        (statefulsets["name"].as_str(), statefulsets["kind"].as_str()),
        (Some("statefulsets"), Some("StatefulSet"))
    );
    assert_eq!(
        (statefulsets["namespaced"].as_bool(), statefulsets["shortNames"][0].as_str()),
        (Some(true), Some("sts"))
    );
    assert_eq!(statefulsets["verbs"], serde_json::json!(["get", "list"]));

    let (status, velero) = get(&app, "/apis/velero.io/v1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(velero["kind"], "APIResourceList");
    assert_eq!(velero["groupVersion"], "velero.io/v1");
    let backups = &velero["resources"][0];
    assert_eq!((backups["name"].as_str(), backups["kind"].as_str()), (Some("backups"), Some("Backup")));
    assert_eq!(
        (backups["namespaced"].as_bool(), backups["verbs"].clone()),
        (Some(true), serde_json::json!(["get", "list"]))
    );
    let (_, namespaces) = get(&app, "/api/v1/namespaces").await;
    assert!(names_of_namespaces(&namespaces).contains(&"velero".to_owned()));
    let (status, _) = get(&app, "/api/v1/namespaces/velero").await;
    assert_eq!(status, StatusCode::OK);
}

fn names_of_namespaces(list: &Value) -> Vec<String> {
    names(list).into_iter().map(str::to_owned).collect()
}

#[tokio::test]
async fn velero_serves_the_schedules_backups() {
    let installation = installation(Scenario::Healthy, ServerVersion::V4_9, NomadServers::Internal);
    let newest_name = installation.velero.as_ref().unwrap().backups[0].name(started_at());
    let app = app(installation);
    let (status, list) = get(&app, BACKUPS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((list["apiVersion"].as_str(), list["kind"].as_str()), (Some("velero.io/v1"), Some("BackupList")));
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    assert_eq!(names(&list)[0], newest_name);
    let newest = &items[0];
    assert_eq!((newest["apiVersion"].as_str(), newest["kind"].as_str()), (Some("velero.io/v1"), Some("Backup")));
    assert_eq!(newest["spec"]["includedNamespaces"], serde_json::json!(["circleci-server"]));
    assert_eq!(newest["status"]["phase"], "Completed");
    assert_eq!(newest["status"]["completionTimestamp"], "2025-03-01T10:00:00Z");
    let phases: Vec<&str> = items.iter().map(|backup| backup["status"]["phase"].as_str().unwrap()).collect();
    assert_eq!(phases.iter().filter(|phase| **phase == "PartiallyFailed").count(), 1);

    let selected = format!("{BACKUPS}?labelSelector=velero.io%2Fschedule-name%3D{BACKUP_SCHEDULE}");
    assert_eq!(get(&app, &selected).await.1["items"].as_array().unwrap().len(), 7);
    let other = format!("{BACKUPS}?labelSelector=velero.io%2Fschedule-name%3Dweekly");
    assert!(names(&get(&app, &other).await.1).is_empty());
    let by_name = format!("{BACKUPS}?fieldSelector=metadata.name%3D{newest_name}");
    assert_eq!(names(&get(&app, &by_name).await.1), [newest_name.as_str()]);
    assert!(names(&get(&app, "/apis/velero.io/v1/namespaces/circleci-server/backups").await.1).is_empty());
    assert_eq!(names(&get(&app, "/apis/velero.io/v1/backups").await.1).len(), 7);

    let (status, backup) = get(&app, &format!("{BACKUPS}/{newest_name}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&backup, newest);
    let (status, missing) = get(&app, &format!("{BACKUPS}/nightly")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["message"], "backups.velero.io \"nightly\" not found");

    let (_, table) = request(&app, BACKUPS, TABLE).await;
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["columnDefinitions"][1]["type"], "date");
    let first = &table["rows"][0]["cells"];
    assert_eq!(first[0].as_str(), Some(newest_name.as_str()));
}

#[tokio::test]
async fn without_velero_its_group_is_unknown() {
    let mut installation = installation(Scenario::Healthy, ServerVersion::V4_10, NomadServers::Internal);
    installation.velero = None;
    let app = app(installation);
    let (_, groups) = get(&app, "/apis").await;
    assert_eq!(groups["groups"].as_array().unwrap().len(), 1, "{groups}");
    for uri in [
        "/apis/velero.io",
        "/apis/velero.io/v1",
        BACKUPS,
        "/apis/velero.io/v1/backups",
        "/apis/velero.io/v1/namespaces/velero/backups/circleci-server-daily-20250301095619",
    ] {
        let (status, answer) = get(&app, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(answer["message"], "the server could not find the requested resource", "{uri}");
    }
    let (_, namespaces) = get(&app, "/api/v1/namespaces").await;
    assert!(!names_of_namespaces(&namespaces).contains(&"velero".to_owned()));
}

#[tokio::test]
async fn rbac_refuses_the_resources_the_installation_refuses() {
    let mut refusing = installation(Scenario::Healthy, ServerVersion::V4_10, NomadServers::Internal);
    refusing.refused = vec![ApiResource::STATEFULSETS, ApiResource::BACKUPS];
    let app = app(refusing);
    let (status, refused) = get(&app, STATEFULSETS).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused["message"],
        "statefulsets.apps is forbidden: User \"system:serviceaccount:circleci-server:realitycheck\" cannot list \
         resource \"statefulsets\" in API group \"apps\" in the namespace \"circleci-server\""
    );
    assert_eq!((refused["reason"].as_str(), refused["details"]["group"].as_str()), (Some("Forbidden"), Some("apps")));
    let (_, refused) = get(&app, "/apis/apps/v1/statefulsets").await;
    assert!(refused["message"].as_str().unwrap().ends_with("at the cluster scope"), "{refused}");
    let (_, refused) = get(&app, &format!("{STATEFULSETS}/mongodb")).await;
    assert!(refused["message"].as_str().unwrap().starts_with("statefulsets.apps \"mongodb\" is forbidden"));
    let (status, refused) = get(&app, BACKUPS).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        refused["message"].as_str().unwrap().contains("cannot list resource \"backups\" in API group \"velero.io\"")
    );
    let (status, _) = get(&app, &format!("{BACKUPS}/any")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = get(&app, "/api/v1/namespaces/circleci-server/secrets").await;
    assert_eq!(status, StatusCode::OK, "only what is refused is");

    let app = app_of(Scenario::SecretsForbidden);
    let (status, refused) = get(&app, "/api/v1/namespaces/circleci-server/secrets/nomad-mtls").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(refused["message"].as_str().unwrap().starts_with("secrets \"nomad-mtls\" is forbidden"), "{refused}");
    assert_eq!(get(&app, STATEFULSETS).await.0, StatusCode::OK);
}

fn app_of(scenario: Scenario) -> Router {
    app(Installation::new(scenario, started_at()))
}
