//! The JUnit report: snapshots, validation against the Ant (windyroad) and Jenkins xUnit
//! schemas with python3's xmlschema, and the marks of a comparison with a baseline.

use std::process::Command;
use std::sync::Arc;

use harness::Event;
use reports::{Baseline, JunitReporter};

use crate::{file_report, scenarios, shared_reference};

fn render(events: &[Event]) -> String {
    file_report(|path| JunitReporter::new(path.to_path_buf()), events)
}

fn render_compared(events: &[Event], baseline: &Arc<Baseline>) -> String {
    file_report(|path| JunitReporter::new(path.to_path_buf()).with_baseline(Some(baseline.clone())), events)
}

#[test]
fn junit_of_every_scenario() {
    for (name, events) in scenarios::all() {
        insta::assert_snapshot!(format!("junit_{name}"), render(&events));
    }
    for (name, events, baseline) in scenarios::compared() {
        insta::assert_snapshot!(format!("junit_{name}"), render_compared(&events, &baseline));
    }
}

/// Compared with a baseline, every testcase's mark is a property of its suite, named after it;
/// without one there is none.
#[test]
fn each_testcase_s_mark_is_a_property_of_its_suite() {
    for (name, events) in scenarios::all() {
        assert!(!render(&events).contains(reports::junit::BASELINE_PROPERTY), "{name}");
    }
    for (name, events, baseline) in scenarios::compared() {
        let xml = render_compared(&events, &baseline);
        let Some(Event::RunFinished(summary)) = events.last() else { unreachable!("scenarios end with RunFinished") };
        for result in &summary.results {
            let property = format!(
                r#"<property name="realitycheck.baseline.{}" value="{}"/>"#,
                result.spec.id,
                baseline.mark(result).as_str()
            );
            assert_eq!(xml.matches(&property).count(), 1, "{name}: {property} in\n{xml}");
            let suite = format!(r#" name="{0}" package="{0}""#, result.spec.suite());
            let (_, in_suite) = xml.split_once(&suite).unwrap();
            let suite_end = in_suite.find("</testsuite>").unwrap();
            assert!(in_suite[..suite_end].contains(&property), "{name}: {property} is in its check's suite");
        }
        assert_eq!(xml.matches("realitycheck.baseline.").count(), summary.results.len(), "{name}");
    }
}

#[test]
fn text_xml_cannot_carry_is_cleaned() {
    let mut events = scenarios::failed_run();
    let Some(Event::RunFinished(summary)) = events.last_mut() else { unreachable!("scenarios end with RunFinished") };
    let harness::Outcome::Failed { diagnosis } = &mut summary.results[2].outcome else { unreachable!("a failure") };
    diagnosis.observed.push("\u{1b}[31merror:\u{1b}[0m bell\u{7} and ]]> inside".to_string());
    let xml = render(&events);
    assert!(xml.contains("error: bell\u{fffd} and ]]]]><![CDATA[> inside"), "{xml}");
}

/// The failed run with durations whose float seconds do not print in three decimals (1.118 s
/// is `1.1179999999999999` as the JUnit crate computes it).
fn odd_durations() -> Vec<Event> {
    let mut events = scenarios::failed_run();
    let Some(Event::RunFinished(summary)) = events.last_mut() else { unreachable!("scenarios end with RunFinished") };
    for (result, millis) in summary.results.iter_mut().zip([1118, 1122, 1235, 1239, 2247]) {
        result.duration = std::time::Duration::from_millis(millis);
    }
    events
}

#[test]
fn every_time_has_three_decimals_at_most() {
    let xml = render(&odd_durations());
    let times: Vec<&str> = xml.split("time=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
    assert!(times.contains(&"1.118") && times.contains(&"1.122"), "{times:?}");
    for time in times {
        let decimals = time.split('.').nth(1).map_or(0, str::len);
        assert!(decimals <= 3 && time.parse::<f64>().is_ok(), "time=\"{time}\" in {xml}");
    }
}

/// Skips the test, saying why, unless REALITYCHECK_REQUIRE_TOOLS=1 (CI) makes it mandatory.
fn skip(why: &str) {
    assert!(
        std::env::var("REALITYCHECK_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "required by REALITYCHECK_REQUIRE_TOOLS=1: {why}"
    );
    eprintln!("skipped: {why}");
}

/// Validates every scenario's report, compared with a baseline or not, against both XSDs. Reads `../shared/reference`
/// (the schemas); skips, saying why, when they, python3 or its xmlschema module are missing
/// (mandatory in CI, see `skip`).
#[test]
fn junit_validates_against_both_schemas() {
    let Some(schemas) = shared_reference("validators/junit-xsd") else {
        skip("../shared/reference/validators/junit-xsd is absent");
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for (name, events) in scenarios::all().into_iter().chain([("odd_durations", odd_durations())]) {
        let path = directory.path().join(format!("{name}.xml"));
        std::fs::write(&path, render(&events)).unwrap();
        reports.push(path);
    }
    for (name, events, baseline) in scenarios::compared() {
        let path = directory.path().join(format!("{name}.xml"));
        std::fs::write(&path, render_compared(&events, &baseline)).unwrap();
        reports.push(path);
    }
    let validate = "\
import sys
try:
    import xmlschema
except ImportError:
    print('the python3 module xmlschema is missing (pip install xmlschema)')
    sys.exit(3)
schemas = [xmlschema.XMLSchema(xsd) for xsd in sys.argv[1:3]]
for report in sys.argv[3:]:
    for schema in schemas:
        schema.validate(report)
";
    let output = Command::new("python3")
        .arg("-c")
        .arg(validate)
        .arg(schemas.join("windyroad-JUnit.xsd"))
        .arg(schemas.join("xunit-plugin-junit-10.xsd"))
        .args(&reports)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) => {
            skip(&format!("cannot run python3: {error}"));
            return;
        }
    };
    if output.status.code() == Some(3) {
        skip(String::from_utf8_lossy(&output.stdout).trim());
        return;
    }
    assert!(output.status.success(), "invalid JUnit XML:\n{}", String::from_utf8_lossy(&output.stderr));
}
