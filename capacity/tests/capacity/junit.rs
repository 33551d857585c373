//! The JUnit report against the Ant (windyroad) and Jenkins xUnit schemas, with python3's
//! xmlschema, as `reports` validates `run`'s; and what it says of each measure.

use std::process::Command;

use crate::{every_fixture, fixtures, report, shared_reference, skip};

/// Validates every fixture's report against both XSDs. Reads `../shared/reference` (the
/// schemas); skips, saying why, when they, python3 or its xmlschema module are missing
/// (mandatory in CI, see `skip`).
#[test]
fn junit_validates_against_both_schemas() {
    let Some(schemas) = shared_reference("validators/junit-xsd") else {
        skip("../shared/reference/validators/junit-xsd is absent");
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut hostile = fixtures::stuck();
    hostile.target = "\u{1b}[31mprod\u{1b}[0m <&>".to_owned();
    hostile.notes.push("a note with a bell\u{7} and ]]> and \u{ffff}".to_owned());
    for (name, measurement) in every_fixture().into_iter().chain([("hostile", hostile)]) {
        let path = directory.path().join(format!("{name}.xml"));
        report(measurement).write_junit(&path).unwrap();
        files.push(path);
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
        .args(&files)
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

#[test]
fn each_measure_is_a_testcase_failed_when_red_and_skipped_when_not_judged() {
    let xml = report(fixtures::scaling_to_the_max()).junit();
    assert!(xml.contains(r#"<testsuite id="0" name="capacity" package="realitycheck.capacity" tests="4" errors="0" failures="2" skipped="0""#), "{xml}");
    assert!(xml.contains(r#"<testcase name="capacity.fits" classname="realitycheck.capacity" time="0"/>"#), "{xml}");
    assert!(
        xml.contains(r#"<testcase name="capacity.autoscaler" classname="realitycheck.capacity" time="0">"#),
        "{xml}"
    );
    assert!(xml.contains(r#"<failure type="failed" message="the autoscaler reached its max of 5 clients"#), "{xml}");
    let machine = report(fixtures::machine()).junit();
    assert!(
        machine.contains(r#"<skipped message="not applicable: machine jobs do not run on Nomad clients"/>"#),
        "{machine}"
    );
    assert!(machine.contains(r#"<property name="executor" value="machine"/>"#), "{machine}");
}

#[test]
fn a_report_file_that_cannot_be_written_says_which_and_what_to_do() {
    let directory = tempfile::tempdir().unwrap();
    let blocker = directory.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let path = blocker.join("capacity.xml");
    let error = report(fixtures::green()).write_junit(&path).unwrap_err().to_string();
    assert!(error.starts_with(&format!("cannot write the capacity JUnit report to {}: ", path.display())), "{error}");
    assert!(error.contains("choose") || error.contains("check"), "what to do: {error}");
}
