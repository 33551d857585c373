//! The JSON report: snapshots, and validation against `schema/report-v1.schema.json`.

use std::collections::BTreeSet;

use harness::Event;
use reports::JsonReporter;
use serde_json::Value;

use crate::{file_report, scenarios};

fn render(events: &[Event]) -> String {
    file_report(|path| JsonReporter::new(path.to_path_buf()), events)
}

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/report-v1.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn json_of_every_scenario() {
    for (name, events) in scenarios::all() {
        insta::assert_snapshot!(format!("json_{name}"), render(&events));
    }
}

#[test]
fn reports_validate_against_the_schema() {
    let schema = schema();
    assert!(jsonschema::meta::is_valid(&schema), "the schema is a valid JSON Schema");
    let validator = jsonschema::options().should_validate_formats(true).build(&schema).unwrap();
    for (name, events) in scenarios::all() {
        let report: Value = serde_json::from_str(&render(&events)).unwrap();
        let errors: Vec<String> = validator.iter_errors(&report).map(|error| error.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        assert_eq!(report["schema_version"], reports::json::SCHEMA_VERSION);
    }
}

/// The schema describes every field the reports have (it forbids others), and the scenarios
/// produce every field the schema describes, so that neither can drift from the other.
#[test]
fn schema_and_reports_name_the_same_fields() {
    let schema = schema();
    let mut described = BTreeSet::new();
    described_fields(&schema, &mut described);
    let mut produced = BTreeSet::new();
    for (_, events) in scenarios::all() {
        produced_fields(&serde_json::from_str(&render(&events)).unwrap(), &mut produced);
    }
    assert_eq!(described, produced);
}

/// Names of the properties the schema describes; each must have a description.
fn described_fields(schema: &Value, fields: &mut BTreeSet<String>) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::Object(properties)) = object.get("properties") {
                for (name, property) in properties {
                    assert!(property.get("description").is_some_and(Value::is_string), "{name} has no description");
                    fields.insert(name.clone());
                }
            }
            object.values().for_each(|value| described_fields(value, fields));
        }
        Value::Array(items) => items.iter().for_each(|value| described_fields(value, fields)),
        _ => {}
    }
}

fn produced_fields(report: &Value, fields: &mut BTreeSet<String>) {
    match report {
        Value::Object(object) => {
            for (name, value) in object {
                fields.insert(name.clone());
                produced_fields(value, fields);
            }
        }
        Value::Array(items) => items.iter().for_each(|value| produced_fields(value, fields)),
        _ => {}
    }
}
