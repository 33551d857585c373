//! The questions `realitycheck init` asks on a terminal, one per setting, each checked on the
//! spot as far as it can be from here: the host answers like the CircleCI API, the token in the
//! named variable is accepted by `/api/v2/me`, the kube context is in the kubeconfig, the
//! project exists. A failed check says what failed and lets the person type another value or
//! keep this one; a value the configuration could not load is asked again. The token itself is
//! never asked for.

use std::path::Path;
use std::time::Duration;

use realitycheck_config::{Secret, Setting, Starter, Target, display_host, normalise_host, setting};
use suites::clients::circleci::{ApiClient, ApiSettings, RetryPolicy};
use suites::clients::cluster::kube_contexts;
use url::Url;

use super::DEFAULT_TOKEN_ENV;
use crate::cli::InitArgs;
use crate::exit::AppError;
use crate::prompt::Prompt;

/// How long one check may wait for the installation.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// What checking an answer found.
enum Check {
    /// Checked, and good: the note says what was found.
    Passed { value: String, note: String },
    /// Well formed; nothing more can be checked from here (the note says why).
    Unchecked { value: String, note: Option<String> },
    /// Well formed, but the check failed: the person may keep it anyway.
    Failed { value: String, why: String },
    /// The configuration could not load it: asked again.
    Unusable { why: String },
}

type Terminal = Prompt<std::io::StdinLock<'static>, std::io::Stdout>;

pub async fn interview(args: &InitArgs, config: &Path) -> Result<Starter, AppError> {
    let mut prompt = Prompt::new(std::io::stdin().lock(), std::io::stdout());
    say(
        &mut prompt,
        &format!(
            "realitycheck init writes {}. Enter accepts the default in [brackets]; Ctrl-C stops without writing.\n",
            config.display()
        ),
    )?;
    // The CA bundle run will use (REALITYCHECK_CA_BUNDLE) verifies the host here too.
    let ca_bundle = setting::CA_BUNDLE.env.and_then(std::env::var_os).filter(|v| !v.is_empty()).map(Into::into);
    let api = |host: &Url, token: &str| {
        ApiClient::new(&ApiSettings {
            host: host.clone(),
            token: Secret::new(token),
            timeout: CHECK_TIMEOUT,
            ca_bundle: ca_bundle.clone(),
            insecure: false,
            retry: RetryPolicy::none(),
            max_pages: Target::with_defaults("init").max_pages,
        })
    };

    let mut host_answers = false;
    let host = ask(
        &mut prompt,
        "CircleCI server host, the base URL (Enter to leave it unset: the cluster checks only)",
        answer(args, &setting::HOST),
        async |value: &str| {
            let url = match normalise_host(value) {
                Ok(url) => url,
                Err(why) => return Check::Unusable { why: format!("{why}; {}", setting::HOST.fix) },
            };
            let shown = display_host(&url);
            let probed = match api(&url, "") {
                Ok(client) => client.probe().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match probed {
                Ok(()) => {
                    host_answers = true;
                    Check::Passed { note: format!("{shown} answers like the CircleCI API"), value: shown }
                }
                Err(why) => {
                    Check::Failed { why: format!("{shown} does not answer like the CircleCI API: {why}"), value: shown }
                }
            }
        },
    )
    .await?;
    let host_url = host.as_deref().and_then(|h| normalise_host(h).ok()).filter(|_| host_answers);

    let mut client = None;
    let token_env = ask(
        &mut prompt,
        "Environment variable that holds the API token (the token itself is never asked for nor written)",
        Some(answer(args, &setting::TOKEN_ENV).unwrap_or_else(|| DEFAULT_TOKEN_ENV.to_string())),
        async |name: &str| {
            if let Err(why) = setting::TOKEN_ENV.read(name) {
                return Check::Unusable { why: format!("{why}; {}", setting::TOKEN_ENV.fix) };
            }
            let value = name.to_string();
            let Some(token) = std::env::var(name).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) else {
                let note =
                    format!("{name} is not set here, so the token is not checked: export it before `realitycheck run`");
                return Check::Unchecked { value, note: Some(note) };
            };
            let Some(url) = &host_url else {
                let note = format!("{name} is set; not checked: there is no host that answers");
                return Check::Unchecked { value, note: Some(note) };
            };
            let me = match api(url, &token) {
                Ok(api) => api.me().await.map(|user| (api, user)).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match me {
                Ok((api, user)) => {
                    client = Some(api);
                    Check::Passed {
                        note: format!("{name} is set and /api/v2/me accepts it: authenticated as {}", user.login),
                        value,
                    }
                }
                Err(why) => {
                    Check::Failed { why: format!("{name} is set, but /api/v2/me does not accept it: {why}"), value }
                }
            }
        },
    )
    .await?;

    let (contexts, current) = match kube_contexts(None) {
        Ok(Some(found)) => {
            let names = if found.names.is_empty() { "none".to_string() } else { found.names.join(", ") };
            say(&mut prompt, &format!("  kube contexts in {}: {names}", found.source))?;
            let current = found.current.clone();
            (Some(found), current)
        }
        Ok(None) => {
            say(
                &mut prompt,
                "  no kubeconfig (KUBECONFIG, ~/.kube/config): without a context, realitycheck uses the in-cluster service account",
            )?;
            (None, None)
        }
        Err(e) => {
            say(&mut prompt, &format!("  ✗ {e}"))?;
            (None, None)
        }
    };
    let kube_context = ask(
        &mut prompt,
        "Kube context of the cluster the installation runs in",
        answer(args, &setting::KUBE_CONTEXT).or(current),
        async |name: &str| {
            let value = name.to_string();
            match &contexts {
                Some(found) if found.names.iter().any(|n| n == name) => {
                    Check::Passed { note: format!("context `{name}` is in {}", found.source), value }
                }
                Some(found) => {
                    Check::Failed { why: format!("there is no context `{name}` in {}", found.source), value }
                }
                None => Check::Unchecked { value, note: Some("not checked: no kubeconfig to look in".into()) },
            }
        },
    )
    .await?;

    let namespace = ask(
        &mut prompt,
        "Namespace of the CircleCI server release",
        answer(args, &setting::NAMESPACE).or_else(|| default(&setting::NAMESPACE)),
        async |namespace: &str| well_formed(&setting::NAMESPACE, namespace),
    )
    .await?;

    let project = ask(
        &mut prompt,
        "Slug of the realitycheck project, vcs/org/repo (Enter to leave it unset: no pipeline checks)",
        answer(args, &setting::PROJECT),
        async |slug: &str| {
            if let Err(why) = setting::PROJECT.read(slug) {
                return Check::Unusable { why: format!("{why}; {}", setting::PROJECT.fix) };
            }
            let value = slug.to_string();
            let Some(api) = &client else {
                return Check::Unchecked { value, note: Some("not checked: no token was accepted".into()) };
            };
            match api.project(slug).await {
                Ok(_) => Check::Passed { note: format!("project {slug} is on the installation"), value },
                Err(why) => Check::Failed {
                    why: format!("project {slug} is not found on the installation: {why} (push .circleci/config.yml and set the project up first)"),
                    value,
                },
            }
        },
    )
    .await?;

    let runner_resource_class = ask(
        &mut prompt,
        "Self-hosted runner resource class, namespace/name (Enter for none: the runner check is skipped)",
        answer(args, &setting::RUNNER_RESOURCE_CLASS),
        async |class: &str| well_formed(&setting::RUNNER_RESOURCE_CLASS, class),
    )
    .await?;
    say(&mut prompt, "")?;

    let answers = [
        (&setting::HOST, host),
        (&setting::TOKEN_ENV, token_env.filter(|name| name != DEFAULT_TOKEN_ENV)),
        (&setting::PROJECT, project),
        (&setting::KUBE_CONTEXT, kube_context),
        (&setting::NAMESPACE, namespace.filter(|n| Some(n) != default(&setting::NAMESPACE).as_ref())),
        (&setting::RUNNER_RESOURCE_CLASS, runner_resource_class),
    ];
    Ok(answers
        .into_iter()
        .filter_map(|(setting, value)| Some((setting, value?)))
        .fold(Starter::default(), |starter, (setting, value)| starter.answer(setting, value)))
}

/// What the flag of `setting` answers already.
fn answer(args: &InitArgs, setting: &Setting) -> Option<String> {
    args.answers.flags.get(setting).map(str::to_string)
}

/// The default of `setting`, as the question offers it.
fn default(setting: &Setting) -> Option<String> {
    setting.default_value().map(|value| value.show())
}

/// An answer that nothing can check from here but its form.
fn well_formed(setting: &Setting, value: &str) -> Check {
    match setting.read(value) {
        Ok(_) => Check::Unchecked { value: value.to_string(), note: None },
        Err(why) => Check::Unusable { why: format!("{why}; {}", setting.fix) },
    }
}

/// Asks `question` until the answer is usable: Enter takes `default` (none: the setting stays
/// unset); a failed check offers to type another value or keep this one, and says which.
async fn ask(
    prompt: &mut Terminal,
    question: &str,
    default: Option<String>,
    mut check: impl AsyncFnMut(&str) -> Check,
) -> Result<Option<String>, AppError> {
    let mut answer = read(prompt, question, default.as_deref())?;
    loop {
        let Some(value) = answer else { return Ok(None) };
        let (line, outcome) = match check(&value).await {
            Check::Passed { value, note } => (Some(format!("  ✓ {note}")), Ok(value)),
            Check::Unchecked { value, note } => (note.map(|note| format!("  - {note}")), Ok(value)),
            Check::Failed { value, why } => (Some(format!("  ✗ {why}")), Err(Some(value))),
            Check::Unusable { why } => (Some(format!("  ✗ {why} (it cannot be kept: asked again)")), Err(None)),
        };
        if let Some(line) = line {
            say(prompt, &line)?;
        }
        answer = match outcome {
            Ok(value) => return Ok(Some(value)),
            Err(Some(kept)) => match read(prompt, &format!("  Type another value, or Enter to keep {kept}"), None)? {
                Some(other) => Some(other),
                None => {
                    say(prompt, &format!("  kept {kept}, although its check failed"))?;
                    return Ok(Some(kept));
                }
            },
            Err(None) => read(prompt, question, default.as_deref())?,
        };
    }
}

fn read(prompt: &mut Terminal, question: &str, default: Option<&str>) -> Result<Option<String>, AppError> {
    prompt.ask(question, default).map_err(|error| match error.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            AppError::Usage("the input ended before every question was answered; nothing was written".into())
        }
        _ => AppError::Io { what: "cannot read the answer from the terminal".into(), source: error },
    })
}

fn say(prompt: &mut Terminal, line: &str) -> Result<(), AppError> {
    prompt.say(line).map_err(AppError::io("cannot write to the terminal".into()))
}
