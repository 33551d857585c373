//! End-to-end tests of `realitycheck explain`, `completions` and `man`: the page of a check,
//! an unknown ID (exit 2, the closest IDs), the list; a bash completion script that bash
//! accepts, and a manual page that `man` renders (when the tools are installed).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{realitycheck, run};
use tempfile::TempDir;

#[test]
fn explain_prints_the_page_then_the_shared_sections_it_links() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args(["explain", "nomad::clients_ready"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/checks/nomad.clients_ready.md")).unwrap();
    assert!(out.stdout.starts_with(&page), "explain prints docs/checks/nomad.clients_ready.md as written");
    assert!(out.stdout.contains("\n## Nomad commands in a server pod\n"), "{}", out.stdout);
    assert!(out.stdout.contains("\n## Kubernetes access\n"), "{}", out.stdout);
    insta::assert_snapshot!(out.stdout.lines().take(5).collect::<Vec<_>>().join("\n"));
}

#[test]
fn explain_of_a_resource_class_check_prints_the_family_page() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args(["explain", "resource_classes::docker_medium+"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("# resource_classes::docker_<class>\n"), "{}", out.stdout);
}

#[test]
fn an_unknown_check_exits_2_naming_the_closest_ids() {
    let dir = TempDir::new().unwrap();
    let both = "one of `nomad::clients_ready`, `upgrade::nomad_clients`";
    for (asked, suggested) in [("clients", both), ("nomad::client_ready", "`nomad::clients_ready`")] {
        let out = run(realitycheck(dir.path()).args(["explain", asked]));
        assert_eq!(out.code, 2, "{asked}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        assert!(out.stderr.contains(&format!("did you mean {suggested}?")), "{asked}: {}", out.stderr);
    }
    let out = run(realitycheck(dir.path()).args(["explain", "nomad::client_ready"]));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn explain_without_an_id_lists_every_check_with_its_summary() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).arg("explain"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    for id in common::ALL_CHECKS.iter().filter(|id| !id.starts_with("resource_classes::")) {
        assert_eq!(
            out.stdout.lines().filter(|line| line.starts_with(&format!("{id} "))).count(),
            1,
            "{id}:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("resource_classes::docker_<class>  a docker job on resource class <class> succeeds"));
    assert!(
        out.stdout.contains("nomad::clients_ready              enough Nomad clients ready, eligible, not draining")
    );
}

/// The subcommands of this build, as `--help` lists them.
const SUBCOMMANDS: [&str; 11] =
    ["run", "list", "upgrade-check", "demo", "sim", "serve", "init", "config", "explain", "completions", "man"];

#[test]
fn the_bash_completion_script_completes_the_subcommands_and_bash_accepts_it() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args(["completions", "bash"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("complete -F _realitycheck"), "{}", out.stdout);
    for subcommand in SUBCOMMANDS {
        let function = format!("realitycheck__subcmd__{}", subcommand.replace('-', "__subcmd__"));
        assert!(out.stdout.contains(&function), "{subcommand} is not completed");
    }
    for shell in ["zsh", "fish"] {
        let other = run(realitycheck(dir.path()).args(["completions", shell]));
        assert_eq!(other.code, 0, "{shell}: {}", other.stderr);
        assert!(other.stdout.contains("explain"), "{shell}: {}", other.stdout);
    }
    let script = dir.path().join("realitycheck.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    match Command::new("bash").arg("-n").arg(&script).output() {
        Ok(checked) => assert!(checked.status.success(), "bash -n: {}", String::from_utf8_lossy(&checked.stderr)),
        Err(_) => common::skip_unless_required("bash is not installed"),
    }
}

#[test]
fn man_prints_a_roff_page_with_the_subcommands_that_man_renders() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).arg("man"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(".TH realitycheck 1"), "{}", out.stdout);
    assert!(out.stdout.contains(".SH SUBCOMMANDS"), "{}", out.stdout);
    for subcommand in SUBCOMMANDS {
        let page = format!("realitycheck\\-{}", subcommand.replace('-', "\\-"));
        assert!(out.stdout.contains(&page), "{subcommand} is not in the page");
    }
    let Ok(mut man) = Command::new("man")
        .args(["-l", "-"])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        return common::skip_unless_required("man is not installed");
    };
    man.stdin.take().unwrap().write_all(out.stdout.as_bytes()).unwrap();
    let rendered = man.wait_with_output().unwrap();
    assert!(rendered.status.success(), "man -l -: {}", String::from_utf8_lossy(&rendered.stderr));
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(text.contains("SUBCOMMANDS") && text.contains("explain"), "{text}");
}
