//! `docs/capacity.svg`, the picture `docs/capacity.md` explains, is the picture of the
//! `scaling_to_the_max` fixture: regenerated here, it must be the committed file
//! (REALITYCHECK_UPDATE_DOCS=1 rewrites it); and the page names every measure.

use std::path::PathBuf;

use crate::{fixtures, report};

fn docs() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs"))
}

#[test]
fn the_picture_in_the_docs_is_the_fixture_s() {
    let svg = report(fixtures::scaling_to_the_max()).svg();
    let path = docs().join("capacity.svg");
    if std::env::var("REALITYCHECK_UPDATE_DOCS").as_deref() == Ok("1") {
        std::fs::write(&path, &svg).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == svg,
        "{} is not the picture of the fixture: run `REALITYCHECK_UPDATE_DOCS=1 cargo test -p capacity --test capacity \
         docs` and look at it",
        path.display()
    );
}

#[test]
fn the_page_explains_every_measure_and_shows_the_picture() {
    let page = std::fs::read_to_string(docs().join("capacity.md")).unwrap();
    for id in capacity::MEASURES {
        assert!(page.contains(&format!("`{id}`")), "docs/capacity.md does not explain {id}");
    }
    assert!(page.contains("(capacity.svg)"), "docs/capacity.md shows the picture");
    assert!(page.contains(capacity::json::SCHEMA), "docs/capacity.md names the JSON schema");
}
