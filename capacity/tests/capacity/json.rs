//! The JSON report against `schema/capacity-v1.schema.json`: every fixture's report conforms,
//! broken ones do not, and the schema describes exactly the fields the reports have.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::{every_fixture, report};

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/capacity-v1.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Why `document` does not conform to the schema (nothing when it does).
pub fn errors(document: &Value) -> Vec<String> {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    let validator =
        VALIDATOR.get_or_init(|| jsonschema::options().should_validate_formats(true).build(&schema()).unwrap());
    validator.iter_errors(document).map(|error| format!("{} at {}", error, error.instance_path())).collect()
}

fn every_report() -> Vec<(&'static str, Value)> {
    every_fixture()
        .into_iter()
        .map(|(name, measurement)| (name, serde_json::from_str(&report(measurement).json()).unwrap()))
        .collect()
}

#[test]
fn the_schema_is_a_json_schema() {
    assert!(jsonschema::meta::is_valid(&schema()));
}

#[test]
fn reports_conform_to_the_schema() {
    for (name, report) in every_report() {
        assert_eq!(errors(&report), Vec::<String>::new(), "{name}");
        assert_eq!(report["schema"], capacity::json::SCHEMA);
    }
}

#[test]
fn the_schema_field_comes_first() {
    let json = report(crate::fixtures::green()).json();
    assert!(json.starts_with("{\n  \"schema\": \"realitycheck.capacity/v1\",\n"), "{json}");
}

/// A way to break a report.
type Breakage = fn(&mut Value);

#[test]
fn broken_reports_do_not_conform() {
    let (_, good) = every_report().remove(0);
    let breakages: [(&str, Breakage); 10] = [
        ("no schema", |report| drop(report.as_object_mut().unwrap().remove("schema"))),
        ("another schema", |report| report["schema"] = json!("realitycheck.capacity/v2")),
        ("an unknown field", |report| report["extra"] = json!(1)),
        ("a verdict of its own", |report| report["verdict"] = json!("fine")),
        ("a measure's passed as text", |report| report["measures"][0]["passed"] = json!("yes")),
        ("an unknown measure", |report| report["measures"][0]["id"] = json!("capacity.speed")),
        ("a negative wait", |report| report["summary"]["wait_p95"] = json!(-1.0)),
        ("a time as text", |report| report["measurement"]["containers"][0]["queued"] = json!("2s")),
        ("an ending without its kind", |report| report["measurement"]["ending"] = json!({"by": "Ctrl-C"})),
        ("a bad trigger time", |report| report["triggered_at"] = json!("yesterday")),
    ];
    for (what, breaks) in breakages {
        let mut broken = good.clone();
        breaks(&mut broken);
        assert!(!errors(&broken).is_empty(), "{what} conforms");
    }
}

/// The schema describes every field the reports have (it forbids others), and the fixtures
/// produce every field the schema describes, so that neither drifts from the other.
#[test]
fn schema_and_reports_name_the_same_fields() {
    let mut described = BTreeSet::new();
    described_fields(&schema(), &mut described);
    let mut produced = BTreeSet::new();
    for (_, report) in every_report() {
        produced_fields(&report, &mut produced);
    }
    assert_eq!(described, produced);
}

fn described_fields(schema: &Value, fields: &mut BTreeSet<String>) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::Object(properties)) = object.get("properties") {
                fields.extend(properties.keys().cloned());
            }
            object.values().for_each(|value| described_fields(value, fields));
        }
        Value::Array(items) => items.iter().for_each(|item| described_fields(item, fields)),
        _ => {}
    }
}

fn produced_fields(report: &Value, fields: &mut BTreeSet<String>) {
    match report {
        Value::Object(object) => {
            fields.extend(object.keys().cloned());
            object.values().for_each(|value| produced_fields(value, fields));
        }
        Value::Array(items) => items.iter().for_each(|item| produced_fields(item, fields)),
        _ => {}
    }
}
