//! The Docker engine a job's `docker` commands reach (a machine VM's, or the remote engine of
//! `setup_remote_docker`): `docker build -t TAG .` builds the Dockerfile of the working
//! directory (`FROM`, `RUN`, `CMD`), running each `RUN` in [`super::shell`] over the image's own
//! file system, and prints BuildKit's plain progress (on standard error, as `docker build`
//! does); `docker run --rm TAG` runs the image's `CMD` over a copy of that file system.
//!
//! The engine keeps every layer it built, by an id that hashes its parent's id and its
//! instruction: a layer seen before is taken from there and printed `CACHED` instead of run.
//! With Docker layer caching those layers outlive the job ([`Layers`], which
//! [`super::job`] keeps in the installation's cache volumes).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::shell::{self, FileSystem, Host, hex};

/// The layers an engine built: the file system after each, by layer id.
pub type Layers = BTreeMap<String, FileSystem>;

/// An image: its file system and the command it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Image {
    files: FileSystem,
    command: Vec<String>,
}

/// One Docker engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Engine {
    images: BTreeMap<String, Image>,
    layers: Layers,
}

/// What a `docker` command printed and its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerRun {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl DockerRun {
    fn failed(status: i32, stderr: String) -> Self {
        Self { status, stdout: String::new(), stderr }
    }
}

impl Engine {
    /// An engine that starts with `layers` (a Docker layer cache volume) and no image.
    pub fn with_layers(layers: Layers) -> Self {
        Self { images: BTreeMap::new(), layers }
    }

    /// The layers it holds, to keep in a cache volume.
    pub fn into_layers(self) -> Layers {
        self.layers
    }

    /// Runs `docker ARGUMENTS` in a job whose working directory holds `files`, on `host`.
    pub fn command(&mut self, arguments: &[&str], files: &FileSystem, host: &Host) -> DockerRun {
        match arguments {
            ["build", "-t", tag, "."] => self.build(tag, files, host),
            ["run", "--rm", tag] => self.run(tag, host),
            other => DockerRun::failed(
                125,
                format!(
                    "docker: this simulation runs only `docker build -t TAG .` and `docker run --rm TAG`, not `docker \
                     {}`\n",
                    other.join(" ")
                ),
            ),
        }
    }

    fn build(&mut self, tag: &str, files: &FileSystem, host: &Host) -> DockerRun {
        let Some(dockerfile) = files.read("Dockerfile") else {
            return DockerRun::failed(
                1,
                "ERROR: failed to solve: failed to read dockerfile: open Dockerfile: no such file or directory\n"
                    .to_owned(),
            );
        };
        let instructions = match parse(dockerfile) {
            Ok(instructions) => instructions,
            Err(error) => return DockerRun::failed(1, format!("ERROR: failed to solve: {error}\n")),
        };
        let Some(Instruction::From(base)) = instructions.first() else {
            return DockerRun::failed(
                1,
                "ERROR: failed to solve: the Dockerfile's first instruction must be FROM\n".to_owned(),
            );
        };
        let base = qualified(base);
        let steps = instructions.iter().filter(|instruction| !matches!(instruction, Instruction::Cmd(_))).count();
        let mut log = String::from("#0 building with \"default\" instance using docker driver\n\n");
        log.push_str(&format!(
            "#1 [internal] load build definition from Dockerfile\n#1 transferring dockerfile: {}B done\n#1 DONE \
             0.0s\n\n",
            dockerfile.len()
        ));
        log.push_str(&format!("#2 [internal] load metadata for {base}\n#2 DONE 0.4s\n\n"));
        log.push_str("#3 [internal] load .dockerignore\n#3 transferring context: 2B done\n#3 DONE 0.0s\n\n");
        let mut number = 4;
        let mut parent = String::new();
        let mut image = Image::default();
        for (index, instruction) in instructions.iter().enumerate() {
            let text = match instruction {
                Instruction::Cmd(command) => {
                    image.command.clone_from(command);
                    continue;
                }
                Instruction::From(_) => format!("FROM {base}"),
                Instruction::Run(command) => format!("RUN {command}"),
            };
            let layer = layer_id(&parent, &text);
            log.push_str(&format!("#{number} [{}/{steps}] {text}\n", index + 1));
            match self.layers.get(&layer) {
                Some(cached) => {
                    image.files = cached.clone();
                    log.push_str(&format!("#{number} CACHED\n\n"));
                }
                None => {
                    if let Instruction::Run(command) = instruction {
                        let run = shell::run(command, &BTreeMap::new(), &mut image.files, host, None);
                        for (_, line) in &run.lines {
                            log.push_str(&format!("#{number} 0.102 {line}\n"));
                        }
                        if run.exit_code != 0 {
                            let failure = format!(
                                "process \"/bin/sh -c {command}\" did not complete successfully: exit code: {}",
                                run.exit_code
                            );
                            log.push_str(&format!("#{number} ERROR: {failure}\n\nERROR: failed to solve: {failure}\n"));
                            return DockerRun::failed(1, log);
                        }
                        log.push_str(&format!("#{number} DONE 0.1s\n\n"));
                    } else {
                        log.push_str(&format!("#{number} DONE 1.2s\n\n"));
                    }
                    self.layers.insert(layer.clone(), image.files.clone());
                }
            }
            parent = layer;
            number += 1;
        }
        let image_id = hex(&Sha256::digest(format!("{parent}\n{:?}", image.command).as_bytes()));
        log.push_str(&format!(
            "#{number} exporting to image\n#{number} exporting layers 0.1s done\n#{number} writing image \
             sha256:{image_id} done\n#{number} naming to {} done\n#{number} DONE 0.1s\n",
            qualified(tag)
        ));
        self.images.insert(tag.to_owned(), image);
        DockerRun { status: 0, stdout: String::new(), stderr: log }
    }

    fn run(&self, tag: &str, host: &Host) -> DockerRun {
        let Some(image) = self.images.get(tag) else {
            return DockerRun::failed(
                125,
                format!(
                    "Unable to find image '{tag}:latest' locally\ndocker: Error response from daemon: pull access \
                     denied for {tag}, repository does not exist or may require 'docker login'.\n"
                ),
            );
        };
        let mut files = image.files.clone();
        let script = image.command.iter().map(|word| quoted(word)).collect::<Vec<_>>().join(" ");
        let run = shell::run(&script, &BTreeMap::new(), &mut files, host, None);
        let (mut stdout, mut stderr) = (String::new(), String::new());
        for (stream, line) in run.lines {
            let text = if stream == shell::Stream::Out { &mut stdout } else { &mut stderr };
            text.push_str(&line);
            text.push('\n');
        }
        DockerRun { status: run.exit_code, stdout, stderr }
    }
}

/// One Dockerfile instruction the simulation builds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Instruction {
    From(String),
    Run(String),
    /// `CMD` in exec form.
    Cmd(Vec<String>),
}

/// The instructions of a Dockerfile, or what the simulation cannot build and where.
fn parse(dockerfile: &str) -> Result<Vec<Instruction>, String> {
    let mut instructions = Vec::new();
    for (number, line) in dockerfile.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim().to_owned();
        let where_ = || format!("Dockerfile:{}", number + 1);
        instructions.push(match keyword.to_ascii_uppercase().as_str() {
            "FROM" => Instruction::From(rest),
            "RUN" => Instruction::Run(rest),
            "CMD" => Instruction::Cmd(serde_json::from_str(&rest).map_err(|error| {
                format!("{}: the simulation runs CMD in exec form (a JSON array) only, not {rest}: {error}", where_())
            })?),
            other => {
                return Err(format!(
                    "{}: the simulation builds FROM, RUN and CMD instructions only, not {other}",
                    where_()
                ));
            }
        });
    }
    Ok(instructions)
}

/// The id of the layer that `instruction` makes on the layer `parent` (empty: none).
fn layer_id(parent: &str, instruction: &str) -> String {
    hex(&Sha256::digest(format!("{parent}\n{instruction}").as_bytes()))
}

/// An image reference as BuildKit prints it: `cimg/base:2025.05` → `docker.io/cimg/base:2025.05`,
/// `alpine` → `docker.io/library/alpine`; a reference that names a registry (a first part with a
/// `.` or `:`, or `localhost`) is kept.
fn qualified(reference: &str) -> String {
    match reference.split_once('/') {
        Some((registry, _)) if registry.contains(['.', ':']) || registry == "localhost" => reference.to_owned(),
        Some(_) => format!("docker.io/{reference}"),
        None => format!("docker.io/library/{reference}"),
    }
}

/// `word` single-quoted for the shell.
fn quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        super::super::shell::test_host()
    }

    fn dockerfile(run_id: &str) -> FileSystem {
        let mut files = FileSystem::default();
        files.write(
            "Dockerfile",
            format!(
                "FROM cimg/base:2025.05\nRUN echo \"cached\" > /tmp/cached\nRUN echo \"{run_id}\" > /tmp/id\nCMD \
                 [\"cat\", \"/tmp/id\"]\n"
            ),
        );
        files
    }

    fn steps(log: &str) -> Vec<&str> {
        log.lines()
            .skip_while(|line| !line.starts_with("#4 "))
            .filter(|line| line.contains(" [") || line.ends_with(" CACHED") || line.contains(" DONE "))
            .collect()
    }

    #[test]
    fn run_lines_write_into_the_image_and_a_second_build_reuses_the_layers_it_shares() {
        let mut engine = Engine::default();
        let first = engine.command(&["build", "-t", "img", "."], &dockerfile("one"), &host());
        assert_eq!(first.status, 0, "{}", first.stderr);
        assert!(!first.stderr.contains("CACHED"), "{}", first.stderr);
        assert!(first.stderr.contains("#5 [2/3] RUN echo \"cached\" > /tmp/cached\n#5 DONE 0.1s"), "{}", first.stderr);
        assert!(first.stderr.contains("#7 naming to docker.io/library/img done"), "{}", first.stderr);
        let run = engine.command(&["run", "--rm", "img"], &FileSystem::default(), &host());
        assert_eq!((run.status, run.stdout.as_str()), (0, "one\n"));

        let mut engine = Engine::with_layers(engine.into_layers());
        let second = engine.command(&["build", "-t", "img", "."], &dockerfile("two"), &host());
        assert_eq!(
            steps(&second.stderr),
            [
                "#4 [1/3] FROM docker.io/cimg/base:2025.05",
                "#4 CACHED",
                "#5 [2/3] RUN echo \"cached\" > /tmp/cached",
                "#5 CACHED",
                "#6 [3/3] RUN echo \"two\" > /tmp/id",
                "#6 DONE 0.1s",
                "#7 DONE 0.1s"
            ]
        );
        let run = engine.command(&["run", "--rm", "img"], &FileSystem::default(), &host());
        assert_eq!(run.stdout, "two\n", "the image carries what its own RUN wrote");
    }

    #[test]
    fn a_layer_is_cached_only_on_the_same_parent_chain() {
        let mut engine = Engine::default();
        engine.command(&["build", "-t", "img", "."], &dockerfile("one"), &host());
        let mut files = FileSystem::default();
        files.write("Dockerfile", "FROM alpine\nRUN echo \"cached\" > /tmp/cached\n".to_owned());
        let other_base = engine.command(&["build", "-t", "other", "."], &files, &host());
        assert!(!other_base.stderr.contains("CACHED"), "{}", other_base.stderr);
        assert!(other_base.stderr.contains("[1/2] FROM docker.io/library/alpine"), "{}", other_base.stderr);
    }

    #[test]
    fn failures_say_what_and_where() {
        let mut engine = Engine::default();
        let missing = engine.command(&["build", "-t", "img", "."], &FileSystem::default(), &host());
        assert_eq!(missing.status, 1);
        assert!(missing.stderr.contains("open Dockerfile: no such file or directory"));
        let mut files = FileSystem::default();
        files.write("Dockerfile", "FROM x\nCOPY a b\n".to_owned());
        let copy = engine.command(&["build", "-t", "img", "."], &files, &host());
        assert!(copy.stderr.contains("Dockerfile:2: the simulation builds FROM, RUN and CMD"), "{}", copy.stderr);
        files.write("Dockerfile", "FROM x\nRUN false\n".to_owned());
        let failing = engine.command(&["build", "-t", "img", "."], &files, &host());
        assert_eq!(failing.status, 1);
        assert!(
            failing.stderr.ends_with(
                "ERROR: failed to solve: process \"/bin/sh -c false\" did not complete successfully: exit code: 1\n"
            ),
            "{}",
            failing.stderr
        );
        let unknown = engine.command(&["run", "--rm", "nothing"], &FileSystem::default(), &host());
        assert_eq!(unknown.status, 125);
        assert!(unknown.stderr.starts_with("Unable to find image 'nothing:latest' locally"));
        assert_eq!(engine.command(&["ps"], &FileSystem::default(), &host()).status, 125);
    }

    #[test]
    fn references_are_qualified_as_buildkit_prints_them() {
        assert_eq!(qualified("cimg/base:2025.05"), "docker.io/cimg/base:2025.05");
        assert_eq!(qualified("registry.local:5000/cimg/base:2025.05"), "registry.local:5000/cimg/base:2025.05");
        assert_eq!(qualified("realitycheck-dlc"), "docker.io/library/realitycheck-dlc");
        assert_eq!(quoted("it's"), r"'it'\''s'");
    }
}
