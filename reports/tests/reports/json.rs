//! The JSON report: snapshots, validation against `schema/report-v2.schema.json`, which keeps
//! every field of `schema/report-v1.schema.json`, and the causes every failure refers to.

use std::collections::BTreeSet;

use harness::Event;
use reports::JsonReporter;
use serde_json::Value;

use crate::{file_report, scenarios};

fn render(events: &[Event]) -> String {
    file_report(|path| JsonReporter::new(path.to_path_buf()), events)
}

fn schema() -> Value {
    schema_of_version(2)
}

fn schema_of_version(version: u32) -> Value {
    let path = format!("{}/schema/report-v{version}.schema.json", env!("CARGO_MANIFEST_DIR"));
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

/// Version 2 keeps every field of version 1, which stays a valid schema for older reports.
#[test]
fn version_2_keeps_every_field_of_version_1() {
    let v1 = schema_of_version(1);
    assert!(jsonschema::meta::is_valid(&v1));
    assert_eq!(v1["properties"]["schema_version"]["const"], "realitycheck.report/v1");
    let (mut old, mut new) = (BTreeSet::new(), BTreeSet::new());
    described_fields(&v1, &mut old);
    described_fields(&schema(), &mut new);
    assert!(old.is_subset(&new), "dropped in v2: {:?}", old.difference(&new).collect::<Vec<_>>());
    // Field names, whatever object they are in: a cause's `id`, `cause` and `checks` are
    // names version 1 used elsewhere.
    assert_eq!(new.difference(&old).collect::<Vec<_>>(), ["causes"]);
}

/// Every failed check refers to one cause, which lists it; every cause explains failed
/// checks whose diagnoses say its cause, remediation and phase.
#[test]
fn every_failure_refers_to_the_cause_that_lists_it() {
    for (name, events) in scenarios::all() {
        let report: Value = serde_json::from_str(&render(&events)).unwrap();
        let checks = report["checks"].as_array().unwrap();
        let causes = report["causes"].as_array().unwrap();
        for check in checks {
            let cause = causes.iter().find(|cause| cause["id"] == check["cause"]);
            if check["status"] != "failed" {
                assert!(check.get("cause").is_none(), "{name}: {check}");
                continue;
            }
            let cause = cause.unwrap_or_else(|| panic!("{name}: no cause for {check}"));
            assert!(cause["checks"].as_array().unwrap().contains(&check["id"]), "{name}: {cause}");
            for field in ["cause", "remediation", "phase"] {
                assert_eq!(cause[field], check["diagnosis"][field], "{name}: {field} of {}", check["id"]);
            }
        }
        let explained: usize = causes.iter().map(|cause| cause["checks"].as_array().unwrap().len()).sum();
        assert_eq!(explained, report["counts"]["failed"].as_u64().unwrap() as usize, "{name}");
    }
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
