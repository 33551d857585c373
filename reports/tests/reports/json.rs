//! The JSON report: snapshots, validation against `schema/report-v3.schema.json`, which keeps
//! every field of `schema/report-v2.schema.json`, which keeps every field of
//! `schema/report-v1.schema.json`; the causes every failure refers to, and the comparison with
//! a baseline.

use std::collections::BTreeSet;
use std::sync::Arc;

use harness::Event;
use reports::{Baseline, JsonReporter};
use serde_json::Value;

use crate::{file_report, scenarios};

fn render(events: &[Event]) -> String {
    file_report(|path| JsonReporter::new(path.to_path_buf()), events)
}

fn render_compared(events: &[Event], baseline: &Arc<Baseline>) -> String {
    file_report(|path| JsonReporter::new(path.to_path_buf()).with_baseline(Some(baseline.clone())), events)
}

/// The report of every scenario, and of those compared with a baseline.
fn every_report() -> Vec<(&'static str, Value)> {
    let plain = scenarios::all().into_iter().map(|(name, events)| (name, render(&events)));
    let compared =
        scenarios::compared().into_iter().map(|(name, events, baseline)| (name, render_compared(&events, &baseline)));
    plain.chain(compared).map(|(name, json)| (name, serde_json::from_str(&json).unwrap())).collect()
}

fn schema() -> Value {
    schema_of_version(3)
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
    for (name, events, baseline) in scenarios::compared() {
        insta::assert_snapshot!(format!("json_{name}"), render_compared(&events, &baseline));
    }
}

#[test]
fn reports_validate_against_the_schema() {
    let schema = schema();
    assert!(jsonschema::meta::is_valid(&schema), "the schema is a valid JSON Schema");
    let validator = jsonschema::options().should_validate_formats(true).build(&schema).unwrap();
    for (name, report) in every_report() {
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
    for (_, report) in every_report() {
        produced_fields(&report, &mut produced);
    }
    assert_eq!(described, produced);
}

/// Field names, whatever object they are in, that version `version` adds to the one before
/// it, which keeps being a valid schema for older reports and whose every field it keeps.
fn added_in(version: u32) -> Vec<String> {
    let older = schema_of_version(version - 1);
    assert!(jsonschema::meta::is_valid(&older));
    assert_eq!(older["properties"]["schema_version"]["const"], format!("realitycheck.report/v{}", version - 1));
    let (mut old, mut new) = (BTreeSet::new(), BTreeSet::new());
    described_fields(&older, &mut old);
    described_fields(&schema_of_version(version), &mut new);
    assert!(old.is_subset(&new), "dropped in v{version}: {:?}", old.difference(&new).collect::<Vec<_>>());
    new.difference(&old).cloned().collect()
}

/// Version 2 keeps every field of version 1 and adds the causes (a cause's `id`, `cause` and
/// `checks` are names version 1 used elsewhere).
#[test]
fn version_2_keeps_every_field_of_version_1() {
    assert_eq!(added_in(2), ["causes"]);
}

/// Version 3 keeps every field of version 2 and adds the comparison with a baseline (its
/// `target`, `host`, `profile`, `started_at`, `status` and `counts` are names version 2 used
/// elsewhere).
#[test]
fn version_3_keeps_every_field_of_version_2() {
    let added = added_in(3);
    let expected = [
        "baseline",
        "file",
        "new_green",
        "new_red",
        "not_compared",
        "not_in_this_run",
        "not_rechecked",
        "still_red",
        "unchanged",
    ];
    assert_eq!(added, expected.map(String::from));
}

/// The schema names every mark and every report schema a baseline may have, as the code does.
#[test]
fn the_schema_names_every_mark_and_every_schema_a_baseline_may_have() {
    let schema = schema();
    let marks: Vec<&str> = reports::Mark::ALL.into_iter().map(reports::Mark::as_str).collect();
    assert_eq!(schema["$defs"]["check"]["properties"]["baseline"]["enum"], serde_json::json!(marks));
    let schemas = &schema["$defs"]["baseline"]["properties"]["schema_version"]["enum"];
    assert_eq!(*schemas, serde_json::json!(reports::baseline::SCHEMAS));
}

/// Without a baseline the report's `baseline` is null and no check has a mark; with one, every
/// check has its mark, the counts add up to them, and the baseline's run is described.
#[test]
fn a_compared_report_marks_every_check_and_counts_the_marks() {
    for (name, events) in scenarios::all() {
        let report: Value = serde_json::from_str(&render(&events)).unwrap();
        assert_eq!(report["baseline"], Value::Null, "{name}");
        assert!(report["checks"].as_array().unwrap().iter().all(|check| check.get("baseline").is_none()), "{name}");
    }
    for (name, events, baseline) in scenarios::compared() {
        let report: Value = serde_json::from_str(&render_compared(&events, &baseline)).unwrap();
        let checks = report["checks"].as_array().unwrap();
        let counts = report["baseline"]["counts"].as_object().unwrap();
        for (field, count) in counts {
            let mark = field.replace('_', "-");
            let marked = checks.iter().filter(|check| check["baseline"] == mark.as_str()).count();
            assert_eq!(count.as_u64().unwrap() as usize, marked, "{name}: {mark}");
        }
        let counted: u64 = counts.values().map(|count| count.as_u64().unwrap()).sum();
        assert_eq!(counted as usize, checks.len(), "{name}: every check has one mark");
        assert_eq!(report["baseline"]["file"], "before.json", "{name}");
        assert_eq!(report["baseline"]["schema_version"], baseline.schema_version(), "{name}");
    }
    let (_, events, baseline) = scenarios::compared().remove(0);
    let report: Value = serde_json::from_str(&render_compared(&events, &baseline)).unwrap();
    let marks: Vec<(&str, &str)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| (check["id"].as_str().unwrap(), check["baseline"].as_str().unwrap()))
        .collect();
    assert_eq!(
        marks,
        [
            ("cluster::pods_ready", "unchanged"),
            ("nomad::servers_alive", "unchanged"),
            ("nomad::clients_ready", "new-red"),
            ("api::authenticated", "unchanged"),
            ("api::project", "not-compared"),
            ("pipeline::trigger", "unchanged"),
            ("executors::docker", "new-green"),
            ("executors::machine", "unchanged"),
            ("executors::remote_docker", "still-red"),
            ("executors::runner", "not-compared"),
            ("features::cache", "new-green"),
            ("features::contexts", "not-rechecked"),
        ]
    );
    assert_eq!(report["baseline"]["not_in_this_run"], serde_json::json!(["executors::arm", "executors::windows"]));
}

/// Every failed check refers to one cause, which lists it; every cause explains failed
/// checks whose diagnoses say its cause, remediation and phase.
#[test]
fn every_failure_refers_to_the_cause_that_lists_it() {
    for (name, report) in every_report() {
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
