//! Access to the installation's Kubernetes API through kube-rs: the client (kubeconfig,
//! context, in-cluster account, as kubectl finds them), pod, event, Secret, StatefulSet and
//! Velero backup listing, and
//! `exec` over WebSocket, natively, with no kubectl binary.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Event, Pod, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{AttachParams, DynamicObject, ListParams};
use kube::client::DynBody;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use realitycheck_config::Kubernetes;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::clients::causes::causes;
use crate::clients::velero::{self, Backup};

/// A connected client for one namespace.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    namespace: String,
    url: String,
}

/// What a command run with `exec` printed, and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot load the Kubernetes configuration ({what}): {message}")]
    Config { what: String, message: String },
    #[error("cannot reach the Kubernetes API at {url}: {message}")]
    Unreachable { url: String, message: String },
    /// Listing pods failed; `answer` is what the API server answered.
    #[error("cannot list pods in namespace `{namespace}` at {url}: {message}")]
    ListPods { namespace: String, url: String, message: String, answer: Answer },
    #[error("cannot exec into pod `{pod}` in namespace `{namespace}`: {message}")]
    Exec { pod: String, namespace: String, message: String },
    /// Listing Secrets failed; `answer` is what the API server answered.
    #[error("cannot list secrets in namespace `{namespace}` at {url}: {message}")]
    ListSecrets { namespace: String, url: String, message: String, answer: Answer },
    /// Reading `what` (a pod's log, a service account) failed; `answer` is what the API server
    /// answered, `rule` the Role rule that grants the read.
    #[error("cannot read {what} in namespace `{namespace}`: {message}")]
    Read { what: String, namespace: String, message: String, answer: Answer, rule: String },
    /// Reading the Secret `name` failed; `answer` is what the API server answered.
    #[error("cannot read secret `{name}` in namespace `{namespace}` at {url}: {message}")]
    GetSecret { name: String, namespace: String, url: String, message: String, answer: Answer },
}

/// The contexts of a kubeconfig, as `realitycheck init` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeContexts {
    /// Where they were read: the file given, `KUBECONFIG` or `~/.kube/config`.
    pub source: String,
    /// The contexts' names, in the file's order.
    pub names: Vec<String>,
    /// Its `current-context`.
    pub current: Option<String>,
}

/// The contexts of the kubeconfig kubectl would read: `path`, else KUBECONFIG (its files
/// merged), else `~/.kube/config`; `None` when there is none of them (the in-cluster account
/// has no contexts). A kubeconfig holds credentials: its errors do not quote it.
pub fn kube_contexts(path: Option<&std::path::Path>) -> Result<Option<KubeContexts>, ClusterError> {
    let from_env = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty());
    let home_config = std::env::var_os("HOME").map(|home| std::path::PathBuf::from(home).join(".kube").join("config"));
    let (source, read) = match (path, &from_env) {
        (Some(path), _) => (path.display().to_string(), Kubeconfig::read_from(path)),
        (None, Some(_)) => ("KUBECONFIG".to_string(), Kubeconfig::read()),
        (None, None) if home_config.as_ref().is_some_and(|p| p.is_file()) => {
            ("~/.kube/config".to_string(), Kubeconfig::read())
        }
        (None, None) => return Ok(None),
    };
    let kubeconfig = read.map_err(|e| ClusterError::Config {
        what: format!("kubeconfig {source}"),
        message: without_quotes(&causes(&e)),
    })?;
    Ok(Some(KubeContexts {
        source,
        names: kubeconfig.contexts.into_iter().map(|context| context.name).collect(),
        current: kubeconfig.current_context.filter(|c| !c.is_empty()),
    }))
}

/// How the API server answered a request that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 401: the API server did not accept the identity's credentials.
    Unauthorized,
    /// 403: RBAC does not let the identity do this.
    Forbidden,
    /// 404: what was asked for (the namespace) does not exist.
    NotFound,
    /// A body that is not Kubernetes JSON: something else than an API server answered.
    NotKubernetes,
    /// Any other failure (no connection, a timeout, a 5xx, an answer cut while it was read).
    Failed,
}

impl Answer {
    fn of(error: &kube::Error) -> Answer {
        match error {
            kube::Error::Api(status) if status.code == 401 => Answer::Unauthorized,
            kube::Error::Api(status) if status.code == 403 => Answer::Forbidden,
            kube::Error::Api(status) if status.code == 404 => Answer::NotFound,
            kube::Error::SerdeError(_) => Answer::NotKubernetes,
            _ => Answer::Failed,
        }
    }
}

impl Cluster {
    /// Builds the client from the target's settings: an explicit kubeconfig file, else the
    /// kubeconfig kubectl would use (with the context asked for), else the in-cluster account.
    pub async fn connect(settings: &Kubernetes, read_timeout: Duration) -> Result<Cluster, ClusterError> {
        let options = KubeConfigOptions { context: settings.context.clone(), ..Default::default() };
        // A kubeconfig holds credentials: its errors are told without quoting it.
        let config_error = |what: String, error: &(dyn std::error::Error + 'static)| ClusterError::Config {
            what,
            message: without_quotes(&causes(error)),
        };
        let mut config = match (&settings.kubeconfig, &settings.context) {
            (Some(path), _) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .map_err(|e| config_error(format!("kubeconfig {}", path.display()), &e))?;
                Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| config_error(format!("kubeconfig {}", path.display()), &e))?
            }
            (None, Some(context)) => {
                Config::from_kubeconfig(&options).await.map_err(|e| config_error(format!("context `{context}`"), &e))?
            }
            (None, None) => Config::infer()
                .await
                .map_err(|e| config_error("KUBECONFIG, ~/.kube/config or in-cluster account".into(), &e))?,
        };
        config.connect_timeout = Some(Duration::from_secs(10));
        config.read_timeout = Some(read_timeout);
        let url = config.cluster_url.to_string().trim_end_matches('/').to_string();
        let builder = kube::client::ClientBuilder::try_from(config)
            .map_err(|e| ClusterError::Unreachable { url: url.clone(), message: causes(&e) })?;
        // Every answer of the API server is read up to MAX_API_BODY, whatever it sends.
        let limited = tower::util::MapResponseLayer::new(|response: http::Response<Box<DynBody>>| {
            response.map(|body| http_body_util::Limited::new(body, MAX_API_BODY))
        });
        let client = builder.with_layer(&limited).build();
        Ok(Cluster { client, namespace: settings.namespace.clone(), url })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The API server's version; the preflight that the API answers at all.
    pub async fn version(&self) -> Result<String, ClusterError> {
        Ok(self.version_info().await?.git_version)
    }

    /// What the API server says of its version (`major`, `minor`, `gitVersion`).
    pub async fn version_info(&self) -> Result<k8s_openapi::apimachinery::pkg::version::Info, ClusterError> {
        self.client
            .apiserver_version()
            .await
            .map_err(|e| ClusterError::Unreachable { url: self.url.clone(), message: causes(&e) })
    }

    /// Pods of the namespace, optionally by label selector, sorted by name.
    pub async fn pods(&self, selector: Option<&str>) -> Result<Vec<Pod>, ClusterError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let params = selector.map_or_else(ListParams::default, |s| ListParams::default().labels(s));
        let mut pods = api.list(&params).await.map_err(|e| ClusterError::ListPods {
            namespace: self.namespace.clone(),
            url: self.url.clone(),
            message: causes(&e),
            answer: Answer::of(&e),
        })?;
        pods.items.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(pods.items)
    }

    /// Secrets of the namespace by label selector, sorted by name.
    pub async fn secrets(&self, selector: &str) -> Result<Vec<Secret>, ClusterError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut secrets =
            api.list(&ListParams::default().labels(selector)).await.map_err(|e| ClusterError::ListSecrets {
                namespace: self.namespace.clone(),
                url: self.url.clone(),
                message: causes(&e),
                answer: Answer::of(&e),
            })?;
        secrets.items.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(secrets.items)
    }

    /// The Secret `name` of the namespace; `None` when it does not exist.
    pub async fn secret(&self, name: &str) -> Result<Option<Secret>, ClusterError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        api.get_opt(name).await.map_err(|e| ClusterError::GetSecret {
            name: name.to_string(),
            namespace: self.namespace.clone(),
            url: self.url.clone(),
            message: causes(&e),
            answer: Answer::of(&e),
        })
    }

    /// The last `lines` lines `pod` logged, at most [`MAX_LOG_BYTES`] of them (asked of the API
    /// server as `limitBytes`, and stopped here should it send more).
    pub async fn logs(&self, pod: &str, lines: i64) -> Result<String, ClusterError> {
        use futures::AsyncReadExt as _;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let limit = MAX_LOG_BYTES as i64;
        let params = kube::api::LogParams { tail_lines: Some(lines), limit_bytes: Some(limit), ..Default::default() };
        let what = || format!("the log of pod `{pod}`");
        let stream = api.log_stream(pod, &params).await.map_err(|e| self.read_error(what(), "pods/log", "get", &e))?;
        let mut log = Vec::new();
        let read = stream.take(MAX_LOG_BYTES as u64).read_to_end(&mut log).await;
        read.map_err(|e| ClusterError::Read {
            what: what(),
            namespace: self.namespace.clone(),
            message: format!("reading it failed: {e}"),
            answer: Answer::Failed,
            rule: rule("pods/log", "get"),
        })?;
        Ok(String::from_utf8_lossy(&log).into_owned())
    }

    /// The events the API server holds about pod `pod` (it keeps them an hour by default),
    /// oldest first.
    pub async fn pod_events(&self, pod: &str) -> Result<Vec<Event>, ClusterError> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let params = ListParams::default().fields(&format!("involvedObject.kind=Pod,involvedObject.name={pod}"));
        let what = format!("the events of pod `{pod}`");
        let mut events = api.list(&params).await.map_err(|e| self.read_error(what, "events", "list", &e))?;
        let seen = |event: &Event| event.last_timestamp.as_ref().or(event.first_timestamp.as_ref()).map(|t| t.0);
        events.items.sort_by_key(seen);
        Ok(events.items)
    }

    /// The ServiceAccount `name`; `None` when it does not exist.
    pub async fn service_account(&self, name: &str) -> Result<Option<ServiceAccount>, ClusterError> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &self.namespace);
        api.get_opt(name)
            .await
            .map_err(|e| self.read_error(format!("service account `{name}`"), "serviceaccounts", "get", &e))
    }

    fn read_error(&self, what: String, resource: &str, verb: &str, error: &kube::Error) -> ClusterError {
        ClusterError::Read {
            what,
            namespace: self.namespace.clone(),
            message: causes(error),
            answer: Answer::of(error),
            rule: rule(resource, verb),
        }
    }

    /// The StatefulSets of the namespace, sorted by name.
    pub async fn statefulsets(&self) -> Result<Vec<StatefulSet>, ClusterError> {
        let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut sets = api.list(&ListParams::default()).await.map_err(|e| ClusterError::Read {
            what: "StatefulSets".into(),
            namespace: self.namespace.clone(),
            message: causes(&e),
            answer: Answer::of(&e),
            rule: rule_in("apps", "statefulsets", "list"),
        })?;
        sets.items.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(sets.items)
    }

    /// Velero's backups in `namespace` (where Velero runs), newest first; `None` when the API
    /// server does not serve `backups.velero.io` (Velero is not installed).
    pub async fn velero_backups(&self, namespace: &str) -> Result<Option<Vec<Backup>>, ClusterError> {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &velero::backups_resource());
        let objects = match api.list(&ListParams::default()).await {
            Ok(objects) => objects,
            Err(e) if Answer::of(&e) == Answer::NotFound => return Ok(None),
            Err(e) => {
                return Err(ClusterError::Read {
                    what: "Velero's backups".into(),
                    namespace: namespace.to_string(),
                    message: causes(&e),
                    answer: Answer::of(&e),
                    rule: rule_in("velero.io", "backups", "list"),
                });
            }
        };
        let mut backups: Vec<Backup> = objects.items.iter().map(Backup::of).collect();
        backups.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| a.name.cmp(&b.name)));
        Ok(Some(backups))
    }

    /// Runs `command` in `pod` (no TTY, no stdin) and collects its output (at most
    /// [`MAX_EXEC_OUTPUT`] bytes of each stream: beyond it, reading stops and the exec ends
    /// with an error) and exit code.
    pub async fn exec(&self, pod: &str, command: &[&str]) -> Result<ExecOutput, ClusterError> {
        let exec_error =
            |message: String| ClusterError::Exec { pod: pod.to_string(), namespace: self.namespace.clone(), message };
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let params = AttachParams::default().stdin(false).stdout(true).stderr(true);
        let mut process = api.exec(pod, command.iter().copied(), &params).await.map_err(|e| exec_error(causes(&e)))?;
        let status = process.take_status().ok_or_else(|| exec_error("no status channel".into()))?;
        let (stdout, stderr) = (process.stdout(), process.stderr());
        let shown = command.join(" ");
        let reading = async {
            tokio::try_join!(bounded_output(stdout, "stdout"), bounded_output(stderr, "stderr"))
                .map_err(|e| exec_error(format!("`{shown}`: {e}")))
        };
        let (mut reading, mut status) = (std::pin::pin!(reading), std::pin::pin!(status));
        // When the connection breaks off (reset, an unreadable status), kube ends its message
        // loop without closing the output streams: the missing status, not the end of the
        // output, says so at once.
        let (out, err, status) = tokio::select! {
            read = &mut reading => {
                let (out, err) = read?;
                (out, err, status.await)
            }
            ended = &mut status => match ended {
                Some(status) => {
                    let (out, err) = reading.await?;
                    (out, err, Some(status))
                }
                None => {
                    let why = match process.join().await {
                        Err(error) => causes(&error),
                        Ok(()) => "the connection closed".to_string(),
                    };
                    return Err(exec_error(format!("`{shown}`: the exec ended without an exit status: {why}")));
                }
            },
        };
        process.join().await.map_err(|e| exec_error(causes(&e)))?;
        let exit_code = exit_code(status.as_ref()).map_err(exec_error)?;
        Ok(ExecOutput {
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            exit_code,
        })
    }
}

/// The Role rule that grants `verb` on `resource` of the core API group.
fn rule(resource: &str, verb: &str) -> String {
    rule_in("", resource, verb)
}

/// The Role rule that grants `verb` on `resource` of API group `group`.
fn rule_in(group: &str, resource: &str, verb: &str) -> String {
    format!("{{apiGroups: [\"{group}\"], resources: [\"{resource}\"], verbs: [\"{verb}\"]}}")
}

/// The first line of a configuration error, its quoted values elided: a YAML parser's message
/// quotes the faulty value and shows the lines around it, and a kubeconfig's lines hold
/// tokens, keys and passwords.
fn without_quotes(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default();
    let mut out = String::with_capacity(first.len());
    let mut open: Option<char> = None;
    for c in first.chars() {
        match open {
            Some(quote) if c == quote => {
                out.push('…');
                out.push(c);
                open = None;
            }
            Some(_) => {}
            None if c == '"' || c == '`' => {
                out.push(c);
                open = Some(c);
            }
            None => out.push(c),
        }
    }
    if open.is_some() {
        out.push('…');
    }
    out
}

/// Bytes of one answer of the Kubernetes API read at most (a namespace's Helm records, the
/// largest list read, are a few MiB).
pub const MAX_API_BODY: usize = 32 * 1024 * 1024;

/// Bytes of a pod's log read at most (the last lines a check scans are a few KiB).
pub const MAX_LOG_BYTES: usize = 1024 * 1024;

/// Bytes of each output stream of an exec read at most (a `nomad ... -json` answer of a large
/// cluster is a few MiB).
pub const MAX_EXEC_OUTPUT: usize = 8 * 1024 * 1024;

/// All of `reader` up to [`MAX_EXEC_OUTPUT`] bytes; more is an error that says so.
async fn bounded_output(reader: Option<impl AsyncRead + Unpin>, stream: &str) -> Result<Vec<u8>, String> {
    let mut output = Vec::new();
    let Some(reader) = reader else { return Ok(output) };
    reader
        .take(MAX_EXEC_OUTPUT as u64 + 1)
        .read_to_end(&mut output)
        .await
        .map_err(|e| format!("reading its {stream} failed: {e}"))?;
    if output.len() > MAX_EXEC_OUTPUT {
        return Err(format!("its {stream} is longer than 8 MiB (the most realitycheck reads); reading stopped there"));
    }
    Ok(output)
}

/// The exit code the API server reports on the status channel: `Success`, or
/// `NonZeroExitCode` with the code among the causes. Any other failure is an exec error.
fn exit_code(status: Option<&Status>) -> Result<i32, String> {
    let Some(status) = status else {
        return Err("the connection closed without an exit status".into());
    };
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let reason = status.reason.as_deref().unwrap_or_default();
    let code = status
        .details
        .as_ref()
        .filter(|_| reason == "NonZeroExitCode")
        .and_then(|d| d.causes.as_ref()?.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.as_deref()?.parse().ok());
    code.ok_or_else(|| format!("{} ({reason})", status.message.as_deref().unwrap_or("the command failed")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(json: &str) -> Status {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn configuration_errors_keep_their_first_line_without_values() {
        let yaml = "failed to parse kubeconfig YAML: invalid type: string \"sekrit-token\", expected a map at line 10\n   10 |     token: sekrit-token";
        assert_eq!(
            without_quotes(yaml),
            "failed to parse kubeconfig YAML: invalid type: string \"…\", expected a map at line 10"
        );
        assert_eq!(without_quotes("unknown context `prod"), "unknown context `…");
    }

    #[test]
    fn exit_codes_from_the_status_channel() {
        assert_eq!(exit_code(Some(&status(r#"{"metadata":{},"status":"Success"}"#))), Ok(0));
        let failed = status(
            r#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit code 1","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"1"}]}}"#,
        );
        assert_eq!(exit_code(Some(&failed)), Ok(1));
        let other = status(
            r#"{"metadata":{},"status":"Failure","message":"container not found (\"nomad\")","reason":"InternalError"}"#,
        );
        assert_eq!(exit_code(Some(&other)), Err("container not found (\"nomad\") (InternalError)".into()));
        assert!(exit_code(None).is_err());
    }
}
