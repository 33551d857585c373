//! Nomad's jobs, read for one number: how many allocations wait for a client with room
//! (`JobSummary.Summary.<group>.Queued`, summed over the jobs that are not dead), from the JSON
//! list that `GET /v1/jobs` answers and `nomad operator api /v1/jobs` prints.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ParseError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JobStub {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    job_summary: Option<JobSummary>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JobSummary {
    #[serde(default)]
    summary: Option<BTreeMap<String, GroupSummary>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GroupSummary {
    #[serde(default)]
    queued: u32,
}

/// The allocations Nomad could not place yet, over every job that is not dead.
pub fn queued_from_json(text: &str) -> Result<u32, ParseError> {
    let jobs: Vec<JobStub> =
        serde_json::from_str(text).map_err(|source| ParseError { command: "nomad operator api /v1/jobs", source })?;
    Ok(jobs
        .iter()
        .filter(|job| job.status.as_deref() != Some("dead"))
        .filter_map(|job| job.job_summary.as_ref()?.summary.as_ref())
        .flat_map(|groups| groups.values())
        .fold(0u32, |total, group| total.saturating_add(group.queued)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_allocations_are_summed_over_groups_of_live_jobs() {
        let text = r#"[
  {"ID": "ci-1", "Status": "pending", "JobSummary": {"Summary": {"task": {"Queued": 3, "Running": 0}}}},
  {"ID": "ci-2", "Status": "running", "JobSummary": {"Summary": {"a": {"Queued": 1, "Running": 2}, "b": {"Queued": 2}}}},
  {"ID": "ci-0", "Status": "dead", "JobSummary": {"Summary": {"task": {"Queued": 9}}}},
  {"ID": "ci-3", "Status": "running", "JobSummary": null}
]"#;
        assert_eq!(queued_from_json(text).unwrap(), 6, "the dead job's leftover count is not waiting");
        assert_eq!(queued_from_json("[]").unwrap(), 0);
        assert!(queued_from_json(r#"{"error": "x"}"#).is_err(), "an object is not the jobs list");
    }
}
