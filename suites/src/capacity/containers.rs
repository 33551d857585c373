//! Each container of the capacity job, from what the API says of the job: v2 job details give
//! when the job was queued and each parallel run's status; v1.1 build details give, per step,
//! one action per container that started (by `index`), with its start and end. A container
//! started at its first action's start and ended at its last action's end, once none of its
//! actions runs any more. Offsets count from the pipeline's creation.

use std::collections::BTreeMap;
use std::time::Duration;

use capacity::Container;
use k8s_openapi::jiff::Timestamp;

use crate::clients::circleci::{BuildAction, BuildDetails, JobDetails};

/// Milliseconds since the Unix epoch of an RFC 3339 time the API gave.
pub(crate) fn unix_ms(time: &str) -> Option<i64> {
    time.parse::<Timestamp>().ok().map(|t| t.as_millisecond())
}

/// The offset of `time` from `origin_ms` (never negative: clocks disagree by a little).
fn offset(time: Option<&str>, origin_ms: i64) -> Option<Duration> {
    let ms = unix_ms(time?)?;
    Some(Duration::from_millis(u64::try_from(ms.saturating_sub(origin_ms)).unwrap_or(0)))
}

/// The `total` containers of the job as `details` and `build` (once the job started) show
/// them, offsets from `origin_ms`; the build's actions are grouped by container once.
pub(crate) fn read(details: &JobDetails, build: Option<&BuildDetails>, total: u32, origin_ms: i64) -> Vec<Container> {
    let queued = offset(details.queued_at.as_deref(), origin_ms);
    let mut actions_of: BTreeMap<u64, Vec<&BuildAction>> = BTreeMap::new();
    for action in build.into_iter().flat_map(|build| &build.steps).flat_map(|step| &step.actions) {
        actions_of.entry(action.index.unwrap_or(0)).or_default().push(action);
    }
    (0..total)
        .map(|index| {
            let actions = actions_of.get(&u64::from(index)).map_or(&[][..], Vec::as_slice);
            let started = actions.iter().filter_map(|a| offset(a.start_time.as_deref(), origin_ms)).min();
            let running = actions.iter().any(|a| a.status.as_deref() == Some("running") || a.end_time.is_none());
            let stopped = if actions.is_empty() || running {
                None
            } else {
                actions.iter().filter_map(|a| offset(a.end_time.as_deref(), origin_ms)).max()
            };
            let run_status = details.parallel_runs.iter().find(|run| run.index == index).and_then(|r| r.status.clone());
            let status = match (&run_status, started, stopped) {
                (Some(status), _, _) => status.clone(),
                (None, None, _) => "queued".to_owned(),
                (None, Some(_), None) => "running".to_owned(),
                (None, Some(_), Some(_)) => {
                    actions.last().and_then(|a| a.status.clone()).unwrap_or_else(|| "success".to_owned())
                }
            };
            Container { index, queued, started, stopped, status }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(json: &str) -> JobDetails {
        serde_json::from_str(json).unwrap()
    }

    const ORIGIN: &str = "2026-12-07T10:00:00Z";

    #[test]
    fn each_container_starts_at_its_first_action_and_ends_at_its_last() {
        let job = details(
            r#"{"number":9,"name":"capacity_docker","status":"running","executor":{"resource_class":"medium"},
                "queued_at":"2026-12-07T10:00:01Z","parallelism":3,
                "parallel_runs":[{"index":0,"status":"success"},{"index":1,"status":"running"},{"index":2,"status":"queued"}]}"#,
        );
        let build: BuildDetails = serde_json::from_str(
            r#"{"build_num":9,"parallel":3,"steps":[
                {"name":"Spin up environment","actions":[
                    {"index":0,"status":"success","start_time":"2026-12-07T10:00:03Z","end_time":"2026-12-07T10:00:04Z"},
                    {"index":1,"status":"success","start_time":"2026-12-07T10:00:30Z","end_time":"2026-12-07T10:00:31Z"}]},
                {"name":"Hold the executor","actions":[
                    {"index":0,"status":"success","start_time":"2026-12-07T10:00:04Z","end_time":"2026-12-07T10:01:04Z"},
                    {"index":1,"status":"running","start_time":"2026-12-07T10:00:31Z","end_time":null}]}]}"#,
        )
        .unwrap();
        let origin = unix_ms(ORIGIN).unwrap();
        let containers = read(&job, Some(&build), 3, origin);
        let secs = Duration::from_secs;
        assert_eq!(
            containers.iter().map(|c| (c.queued, c.started, c.stopped, c.status.as_str())).collect::<Vec<_>>(),
            [
                (Some(secs(1)), Some(secs(3)), Some(secs(64)), "success"),
                (Some(secs(1)), Some(secs(30)), None, "running"),
                (Some(secs(1)), None, None, "queued"),
            ]
        );
        assert_eq!(containers[1].wait(), Some(secs(29)));
    }

    #[test]
    fn a_queued_job_has_every_container_waiting_and_old_servers_without_parallel_runs_still_read() {
        let job = details(
            r#"{"number":9,"name":"capacity_docker","status":"queued","executor":{"resource_class":"medium"},
                "queued_at":"2026-12-07T09:59:59Z"}"#,
        );
        let containers = read(&job, None, 2, unix_ms(ORIGIN).unwrap());
        assert_eq!(containers.len(), 2);
        assert!(containers.iter().all(|c| c.status == "queued" && c.started.is_none()));
        assert_eq!(containers[0].queued, Some(Duration::ZERO), "a clock a second behind is not a negative offset");
    }
}
