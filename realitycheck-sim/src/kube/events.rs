//! Listing events (`GET /api/v1/namespaces/{namespace}/events`, field selectors on
//! `involvedObject.*`, `reason`, `type`): what the kubelets of the simulated cluster report
//! about the release's pods. As on a real cluster, whose API server keeps events for an hour
//! (`--event-ttl`), a pod that started days ago and stays healthy has none left; a pod failing
//! its readiness probe or crash-looping has the warnings the kubelet keeps repeating.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::list::{self, ListRequest};
use super::status::ApiError;
use crate::installation::Installation;
use crate::pods::{PodHealth, ReleasePod};
use crate::{NAMESPACE, clock, ids};

/// The fields events can be selected by.
const SELECTABLE_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    "metadata.name",
    "metadata.namespace",
];

/// How often the kubelet probes readiness, and so repeats a failing probe's warning.
const PROBE_PERIOD: SignedDuration = SignedDuration::from_secs(10);

/// `GET /api/v1/namespaces/{namespace}/events`; an unknown namespace has none.
pub(crate) async fn list(
    State(installation): State<Arc<Installation>>,
    Path(namespace): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let request = ListRequest::parse(query.as_deref(), SELECTABLE_FIELDS)?;
    let pods = if namespace == NAMESPACE { installation.pods.as_slice() } else { &[] };
    let now = clock::now();
    let events: Vec<Event> = pods
        .iter()
        .flat_map(|pod| events_of(pod, installation.started_at, now))
        .filter(|event| request.fields.matches(|key| field(event, key)))
        .collect();
    let resource_version = installation.pods.iter().map(|pod| pod.resource_version).max().unwrap_or_default() + 2;
    let table = || json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "rows": []});
    Ok(list::respond(&headers, ("v1", "EventList"), json!(events), &resource_version.to_string(), table))
}

/// The events the API server still holds about `pod` at `now`.
fn events_of(pod: &ReleasePod, started_at: Timestamp, now: Timestamp) -> Vec<Event> {
    let since = started_at - SignedDuration::from_secs(47);
    match pod.health {
        PodHealth::Ready => Vec::new(),
        PodHealth::NotReady => {
            let count = (now.duration_since(since).as_secs() / PROBE_PERIOD.as_secs()).max(1) as i32 + 1_200;
            vec![event(
                pod,
                ("Warning", "Unhealthy"),
                "Readiness probe failed: HTTP probe failed with statuscode: 503".into(),
                (since, now, count),
            )]
        }
        PodHealth::CrashLoopBackOff { restarts } => vec![
            event(
                pod,
                ("Normal", "Pulled"),
                format!("Container image \"{}\" already present on machine", pod.image),
                (since, now, restarts),
            ),
            event(pod, ("Normal", "Created"), format!("Created container {}", pod.container), (since, now, restarts)),
            event(pod, ("Normal", "Started"), format!("Started container {}", pod.container), (since, now, restarts)),
            event(
                pod,
                ("Warning", "BackOff"),
                format!("Back-off restarting failed container {} in pod {}_{NAMESPACE}", pod.container, pod.name),
                (since, now, restarts * 4),
            ),
        ],
    }
}

/// An event of the kubelet about `pod`'s container: its type and reason, its message, when it
/// was first and last seen and how often.
fn event(
    pod: &ReleasePod,
    (type_, reason): (&str, &str),
    message: String,
    (first, last, count): (Timestamp, Timestamp, i32),
) -> Event {
    let name = format!("{}.{}", pod.name, ids::kubernetes_suffix(&format!("{}/{reason}", pod.name), 16));
    Event {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(NAMESPACE.to_owned()),
            uid: Some(ids::uuid(&format!("{NAMESPACE}/events/{name}"))),
            resource_version: Some((pod.resource_version + 1).to_string()),
            creation_timestamp: Some(Time(first)),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Pod".to_owned()),
            name: Some(pod.name.clone()),
            namespace: Some(NAMESPACE.to_owned()),
            uid: Some(ids::uuid(&format!("{NAMESPACE}/{}", pod.name))),
            resource_version: Some(pod.resource_version.to_string()),
            field_path: Some(format!("spec.containers{{{}}}", pod.container)),
        },
        reason: Some(reason.to_owned()),
        message: Some(message),
        source: Some(EventSource { component: Some("kubelet".to_owned()), host: Some(pod.node_name.clone()) }),
        first_timestamp: Some(Time(first)),
        last_timestamp: Some(Time(last)),
        count: Some(count),
        type_: Some(type_.to_owned()),
        reporting_component: Some("kubelet".to_owned()),
        reporting_instance: Some(pod.node_name.clone()),
        ..Event::default()
    }
}

/// The value of a selectable field of `event`.
fn field<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    let object = &event.involved_object;
    match key {
        "involvedObject.kind" => object.kind.as_deref(),
        "involvedObject.namespace" => object.namespace.as_deref(),
        "involvedObject.name" => object.name.as_deref(),
        "involvedObject.uid" => object.uid.as_deref(),
        "involvedObject.apiVersion" => object.api_version.as_deref(),
        "involvedObject.fieldPath" => object.field_path.as_deref(),
        "reason" => event.reason.as_deref(),
        "reportingComponent" => event.reporting_component.as_deref(),
        "source" => event.source.as_ref().and_then(|source| source.component.as_deref()),
        "type" => event.type_.as_deref(),
        "metadata.name" => event.metadata.name.as_deref(),
        "metadata.namespace" => event.metadata.namespace.as_deref(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::release_pods;
    use crate::version::Deployment;

    #[test]
    fn healthy_pods_have_no_events_left_and_failing_ones_their_warnings() {
        let started_at = Timestamp::from_second(1_795_000_000).unwrap();
        let now = started_at + SignedDuration::from_secs(3);
        let mut pods = release_pods(Deployment::default());
        assert!(events_of(&pods[0], started_at, now).is_empty());
        pods[0].health = PodHealth::NotReady;
        let unready = events_of(&pods[0], started_at, now);
        assert_eq!(unready.len(), 1);
        assert_eq!((unready[0].type_.as_deref(), unready[0].reason.as_deref()), (Some("Warning"), Some("Unhealthy")));
        assert_eq!(field(&unready[0], "involvedObject.name"), Some(pods[0].name.as_str()));
        pods[1].health = PodHealth::CrashLoopBackOff { restarts: 7 };
        let reasons: Vec<_> =
            events_of(&pods[1], started_at, now).into_iter().map(|event| event.reason.unwrap_or_default()).collect();
        assert_eq!(reasons, ["Pulled", "Created", "Started", "BackOff"]);
    }
}
