//! The SVG picture: well-formed, every coordinate a number inside the canvas, and what it
//! draws for one container, for 200, for a measurement where nothing started and for a
//! machine run; snapshots of the small ones.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::{every_fixture, fixtures, report};

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 540.0;

/// Panics unless `svg` is well-formed XML whose every coordinate is a finite number on the
/// canvas; returns the texts it shows.
pub fn drawable(svg: &str) -> Vec<String> {
    let mut reader = Reader::from_str(svg);
    let mut texts = Vec::new();
    let mut depth = 0usize;
    loop {
        match reader.read_event().unwrap_or_else(|error| panic!("not well-formed: {error}\n{svg}")) {
            Event::Eof => break,
            Event::Start(element) => {
                depth += 1;
                check_coordinates(&element, svg);
            }
            Event::Empty(element) => check_coordinates(&element, svg),
            Event::End(_) => depth -= 1,
            Event::Text(text) => texts.push(text.decode().unwrap().into_owned()),
            Event::GeneralRef(reference) => texts.push(format!("&{};", String::from_utf8_lossy(&reference))),
            _ => {}
        }
    }
    assert_eq!(depth, 0, "every element is closed");
    texts.retain(|text| !text.trim().is_empty());
    texts
}

fn check_coordinates(element: &quick_xml::events::BytesStart, svg: &str) {
    for attribute in element.attributes() {
        let attribute = attribute.unwrap();
        let name = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
        let value = String::from_utf8_lossy(&attribute.value).into_owned();
        let limit = match name.as_str() {
            "x" | "x1" | "x2" | "cx" | "width" => WIDTH,
            "y" | "y1" | "y2" | "cy" | "height" => HEIGHT,
            "d" => {
                for number in value.split(|c: char| c.is_ascii_alphabetic() || c == ' ').filter(|n| !n.is_empty()) {
                    let number: f64 = number.parse().unwrap_or_else(|_| panic!("{number} in {value}"));
                    assert!((0.0..=WIDTH).contains(&number), "{number} off the canvas in {value}\n{svg}");
                }
                continue;
            }
            _ => continue,
        };
        let number: f64 = value.parse().unwrap_or_else(|_| panic!("{name}={value:?} is not a number"));
        assert!((0.0..=limit).contains(&number), "{name}={value} off the canvas\n{svg}");
    }
}

#[test]
fn every_fixture_draws_on_the_canvas() {
    for (name, measurement) in every_fixture() {
        let svg = report(measurement).svg();
        let texts = drawable(&svg);
        assert!(texts.iter().any(|text| text.contains("seconds since the trigger")), "{name}: {texts:?}");
        assert!(svg.len() < 40_000, "{name}: {} bytes", svg.len());
    }
}

#[test]
fn one_container() {
    let svg = report(fixtures::one()).svg();
    let texts = drawable(&svg);
    assert!(texts.contains(&"prod: 1 × medium on docker, hold 60s".to_owned()), "{texts:?}");
    assert!(!texts.iter().any(|text| text.contains("first scale-out")), "no scale-out: {texts:?}");
    insta::assert_snapshot!("svg_one", svg);
}

#[test]
fn two_hundred_containers() {
    let report = report(fixtures::two_hundred());
    let svg = report.svg();
    let texts = drawable(&svg);
    assert!(texts.contains(&"250".to_owned()), "the containers' axis reaches past 200: {texts:?}");
    assert!(texts.contains(&"autoscaler max: 25 clients".to_owned()), "{texts:?}");
    assert!(texts.contains(&"first scale-out at 65s".to_owned()), "{texts:?}");
    assert!(texts[0].starts_with("Capacity of prod: 200 × medium on docker, hold 60s; p95 wait 65.5s"), "{texts:?}");
    assert!(texts[2].starts_with("p95 wait 65.5s (threshold 180s) · all 200 started by "), "{texts:?}");
}

#[test]
fn nothing_started() {
    let svg = report(fixtures::not_started()).svg();
    let texts = drawable(&svg);
    let note =
        ["nothing was triggered: the API refused the trigger: 403 Forbidden (the token", "cannot trigger pipelines)"];
    assert!(texts.windows(2).any(|pair| pair == note), "the reason on two lines: {texts:?}");
    assert!(
        !svg.contains("fill-opacity=\"0.28\" stroke=\"#2b8a3e\" stroke-width=\"1.6\" stroke-linejoin"),
        "no running area"
    );
    insta::assert_snapshot!("svg_not_started", svg);
}

#[test]
fn nothing_observed_at_all() {
    let mut measurement = fixtures::docker(0, 60.0);
    measurement.autoscaler = None;
    measurement.ending = capacity::Ending::Interrupted { by: "Ctrl-C".to_owned() };
    let texts = drawable(&report(measurement).svg());
    assert!(texts.contains(&"no container was asked for".to_owned()), "{texts:?}");
}

#[test]
fn a_machine_run_has_no_clients_axis() {
    let svg = report(fixtures::machine()).svg();
    let texts = drawable(&svg);
    assert!(!texts.iter().any(|text| text.contains("Nomad clients")), "{texts:?}");
    assert!(!texts.iter().any(|text| text.contains("autoscaler")), "{texts:?}");
    assert!(texts.contains(&"containers waiting".to_owned()) && texts.contains(&"containers running".to_owned()));
}
