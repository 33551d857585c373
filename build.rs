//! Embeds the pages of docs/checks in the binary: writes `check_pages.rs` into OUT_DIR, a
//! table of every `docs/checks/<suite>.<name>.md` by file stem and the index
//! (`docs/checks/README.md`), each through `include_str!`, which `src/explain.rs` includes.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let pages_dir = Path::new(&manifest_dir).join("docs").join("checks");
    println!("cargo:rerun-if-changed={}", pages_dir.display());
    let entries = std::fs::read_dir(&pages_dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; the check pages live there", pages_dir.display()));
    let mut stems: Vec<String> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", pages_dir.display())).path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .filter_map(|path| path.file_stem().and_then(|stem| stem.to_str()).map(str::to_string))
        .filter(|stem| stem != "README")
        .collect();
    stems.sort();
    let include =
        |stem: &str| format!("include_str!({:?})", pages_dir.join(format!("{stem}.md")).display().to_string());
    let mut table = String::from(
        "/// The check pages of docs/checks, by file stem (`nomad.clients_ready`), in name order.\n\
         pub const CHECK_PAGES: &[(&str, &str)] = &[\n",
    );
    for stem in &stems {
        writeln!(table, "    ({stem:?}, {}),", include(stem)).expect("writing to a String");
    }
    table.push_str("];\n\n/// docs/checks/README.md: the index of the checks and the causes they share.\n");
    writeln!(table, "pub const CHECKS_INDEX: &str = {};", include("README")).expect("writing to a String");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("check_pages.rs");
    std::fs::write(&out, table).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
