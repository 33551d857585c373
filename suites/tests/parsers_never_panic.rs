//! Property tests: whatever a server or a pod prints, the parsers and decoders answer with a
//! value or an error, never a panic. Inputs are arbitrary text, JSON of any shape, tables
//! whose rows are cut or padded, and arbitrary bytes for certificates and Helm records.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Pod, Secret};
use proptest::prelude::*;
use serde_json::Value;
use suites::clients::certs::{Certificate, pem_of};
use suites::clients::circleci::{BuildDetails, JobDetails, Pipeline, Workflow, WorkflowJob};
use suites::clients::nomad::{keyring, members, nodes};
use suites::clients::{helm, pods};

/// JSON of any shape, a few levels deep, with the keys the decoders look for among others.
fn json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("ID".to_string()),
        Just("Name".to_string()),
        Just("Status".to_string()),
        Just("Drivers".to_string()),
        Just("Healthy".to_string()),
        Just("Tags".to_string()),
        Just("Members".to_string()),
        Just("Keys".to_string()),
        Just("Attributes".to_string()),
        Just("status".to_string()),
        Just("items".to_string()),
        Just("metadata".to_string()),
        "[a-zA-Z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Tables as the nomad CLI prints them, with rows cut short, padded or made of anything.
fn table() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just("ID        Node Pool  DC   Name    Class   Drain  Eligibility  Status".to_string()),
        Just("Name  Address  Port  Status  Leader  Raft Version  Build  Datacenter  Region".to_string()),
        Just("Key".to_string()),
        ".{0,60}",
    ];
    (header, prop::collection::vec(".{0,80}", 0..6)).prop_map(|(header, rows)| format!("{header}\n{}", rows.join("\n")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn nomad_output_never_panics(text in prop_oneof![".{0,200}", table(), json().prop_map(|v| v.to_string())]) {
        let _ = nodes::from_json(&text);
        let _ = nodes::from_table(&text);
        let _ = members::from_json(&text);
        let _ = members::from_table(&text);
        let _ = keyring::from_output(&text);
        let _ = nodes::detail_from_json(&text);
        if let Ok(members) = members::from_agent_members(&text) {
            let regions = members.regions();
            let leaders = regions.into_iter().map(|region| (region, "10.0.0.8:4647".to_string())).collect();
            let _ = members.with_leaders(&leaders);
        }
    }

    #[test]
    fn api_bodies_decode_or_fail_cleanly(body in json()) {
        let text = body.to_string();
        let _ = serde_json::from_str::<Pipeline>(&text);
        let _ = serde_json::from_str::<Workflow>(&text);
        let _ = serde_json::from_str::<WorkflowJob>(&text);
        let _ = serde_json::from_str::<JobDetails>(&text);
        let _ = serde_json::from_str::<BuildDetails>(&text);
    }

    #[test]
    fn pods_of_any_shape_are_described(body in json()) {
        if let Ok(pod) = serde_json::from_value::<Pod>(body) {
            let state = pods::PodState::of(&pod);
            let _ = state.describe();
            let _ = pods::workload_of(&pod);
            let all = [pod];
            let _ = pods::workloads_of(&all, "machine-provisioner");
        }
    }

    #[test]
    fn certificates_and_helm_records_of_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512), base64_once in any::<bool>()) {
        let value = if base64_once { STANDARD.encode(&bytes).into_bytes() } else { bytes.clone() };
        if let Some((pem, _)) = pem_of(&value) {
            let _ = Certificate::from_pem(&pem);
        }
        let _ = Certificate::from_der(&bytes);
        let record = Secret {
            metadata: serde_json::from_value(serde_json::json!({
                "name": "sh.helm.release.v1.circleci-server.v1",
                "labels": {"owner": "helm", "name": "circleci-server", "version": "1", "status": "deployed"},
            }))
            .unwrap(),
            data: Some([("release".to_string(), ByteString(value))].into()),
            ..Secret::default()
        };
        let _ = helm::decode(&record);
        let _ = helm::newest_records(&[record]);
    }
}
