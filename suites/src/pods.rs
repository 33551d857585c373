//! A pod reduced to what readiness judgements need: phase, ready containers, the reason a
//! container waits or died, restarts. This is what `kubectl get pods` shows.

use k8s_openapi::api::core::v1::Pod;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodState {
    pub name: String,
    pub phase: String,
    pub ready_containers: usize,
    pub containers: usize,
    /// The pod's Ready condition is True.
    pub ready: bool,
    /// Why a container is not running (CrashLoopBackOff, ImagePullBackOff, Error...).
    pub reason: Option<String>,
    pub restarts: i32,
}

impl PodState {
    pub fn of(pod: &Pod) -> PodState {
        let status = pod.status.clone().unwrap_or_default();
        let statuses = status.container_statuses.unwrap_or_default();
        let ready = status.conditions.unwrap_or_default().iter().any(|c| c.type_ == "Ready" && c.status == "True");
        let reason = statuses.iter().find_map(|c| {
            let state = c.state.as_ref()?;
            state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.clone())
                .or_else(|| state.terminated.as_ref().and_then(|t| t.reason.clone()))
        });
        PodState {
            name: pod.metadata.name.clone().unwrap_or_default(),
            phase: status.phase.unwrap_or_else(|| "Unknown".into()),
            ready_containers: statuses.iter().filter(|c| c.ready).count(),
            containers: pod.spec.as_ref().map_or(statuses.len(), |s| s.containers.len()),
            ready,
            reason: reason.or(status.reason),
            restarts: statuses.iter().map(|c| c.restart_count).sum(),
        }
    }

    /// Running and Ready, or a finished job pod.
    pub fn is_healthy(&self) -> bool {
        (self.phase == "Running" && self.ready) || self.phase == "Succeeded"
    }

    /// The line an operator reads: `frontend-6c9d7: CrashLoopBackOff, 0/1 ready, 7 restarts`.
    pub fn describe(&self) -> String {
        let state = self.reason.as_deref().unwrap_or(&self.phase);
        let restarts = match self.restarts {
            0 => String::new(),
            1 => ", 1 restart".into(),
            n => format!(", {n} restarts"),
        };
        format!("{}: {state}, {}/{} ready{restarts}", self.name, self.ready_containers, self.containers)
    }
}
