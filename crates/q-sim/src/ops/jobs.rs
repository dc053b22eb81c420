//! StartDataSourceSyncJob, StopDataSourceSyncJob, ListDataSourceSyncJobs.
//!
//! One job at a time per data source: a job in SYNCING or SYNCING_INDEXING
//! counts as running (AWS answers 409 ConflictException to Start until the
//! previous job has finished indexing).

use std::time::Instant;

use serde_json::{Value, json};

use super::{APP, DS, INDEX, Req, decode_token, page};
use crate::error::QError;
use crate::shared::{Event, Inner, Shared};
use crate::state::{Job, now_secs};
use crate::validate::Validator;

fn is_running(status: &str) -> bool {
    matches!(status, "SYNCING" | "SYNCING_INDEXING" | "STOPPING")
}

/// StartDataSourceSyncJob.
pub fn start(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP, INDEX, DS]);
    v.finish()?;
    let mut inner = shared.lock();
    let idx = inner
        .state
        .index(req.label("applicationId"), req.label("indexId"))?;
    let ds_id = req.label("dataSourceId");
    let ds = idx
        .data_sources
        .get_mut(ds_id)
        .ok_or_else(|| QError::not_found("DataSource", ds_id))?;
    if let Some(j) = ds.jobs.iter().find(|j| is_running(&j.status)) {
        return Err(QError::Conflict {
            message: format!(
                "A sync job ({}) is already running for data source {ds_id}.",
                j.execution_id
            ),
            resource_id: ds_id.to_string(),
            resource_type: "DataSource".into(),
        });
    }
    let exec = uuid::Uuid::new_v4().to_string();
    ds.jobs.push(Job {
        execution_id: exec.clone(),
        start_time: now_secs(),
        end_time: None,
        status: "SYNCING".into(),
        error: None,
        aborted: false,
        outcomes: Default::default(),
    });
    inner.dirty = true;
    Ok(json!({"executionId": exec}))
}

/// Moves the SYNCING job of a data source to SYNCING_INDEXING and schedules
/// its end; returns the execution id. Shared by the operation and the
/// control API's `stop-running` (which marks the job aborted).
pub fn stop_job(
    shared: &Shared,
    inner: &mut Inner,
    app: &str,
    index: &str,
    ds_id: &str,
    aborted: bool,
) -> Result<String, QError> {
    let idx = inner.state.index(app, index)?;
    let ds = idx
        .data_sources
        .get_mut(ds_id)
        .ok_or_else(|| QError::not_found("DataSource", ds_id))?;
    let Some(job) = ds.jobs.iter_mut().find(|j| j.status == "SYNCING") else {
        return Err(QError::Conflict {
            message: format!("There is no running sync job for data source {ds_id}."),
            resource_id: ds_id.to_string(),
            resource_type: "DataSource".into(),
        });
    };
    job.status = "SYNCING_INDEXING".into();
    job.aborted = aborted;
    let exec = job.execution_id.clone();
    // Every document accepted before now is final by now + delay; this event
    // is scheduled after theirs, so it sees their outcomes.
    inner.schedule(
        Instant::now() + shared.cfg.indexing_delay,
        Event::Job {
            app: app.to_string(),
            index: index.to_string(),
            ds: ds_id.to_string(),
            exec: exec.clone(),
        },
    );
    inner.dirty = true;
    shared.wake.notify_one();
    Ok(exec)
}

/// StopDataSourceSyncJob.
pub fn stop(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP, INDEX, DS]);
    v.finish()?;
    let mut inner = shared.lock();
    stop_job(
        shared,
        &mut inner,
        req.label("applicationId"),
        req.label("indexId"),
        req.label("dataSourceId"),
        false,
    )?;
    Ok(json!({}))
}

/// Parses a querystring timestamp: rest-json sends ISO 8601 date-time; epoch
/// seconds are accepted too.
fn query_time(v: &mut Validator, req: &Req, name: &str) -> Option<f64> {
    let raw = req.query(name)?;
    if let Ok(n) = raw.parse::<f64>() {
        return Some(n);
    }
    match chrono::DateTime::parse_from_rfc3339(raw) {
        Ok(t) => Some(t.timestamp_millis() as f64 / 1000.0),
        Err(_) => {
            v.parse_error(format!("Cannot parse '{name}': '{raw}' is not a timestamp"));
            None
        }
    }
}

/// ListDataSourceSyncJobs: newest first; `startTime`/`endTime` select jobs
/// that started inside the window; `syncStatus` filters by status.
pub fn list(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP, INDEX, DS]);
    let max = req
        .query_int(
            &mut v,
            "maxResults",
            "MaxResultsIntegerForListDataSourcesSyncJobs",
        )
        .unwrap_or(10);
    let from = query_time(&mut v, req, "startTime");
    let to = query_time(&mut v, req, "endTime");
    let status = req
        .query("syncStatus")
        .map(|s| Value::String(s.to_string()));
    let status = v.enumeration(
        "syncStatus",
        status.as_ref(),
        "DataSourceSyncJobStatus",
        false,
    );
    let token = req.query("nextToken").map(|s| Value::String(s.to_string()));
    let token = v.string("nextToken", token.as_ref(), "NextToken", false);
    v.finish()?;
    let offset = match token {
        Some(t) => decode_token(&t)?,
        None => 0,
    };
    let mut inner = shared.lock();
    let idx = inner
        .state
        .index(req.label("applicationId"), req.label("indexId"))?;
    let ds_id = req.label("dataSourceId");
    let ds = idx
        .data_sources
        .get(ds_id)
        .ok_or_else(|| QError::not_found("DataSource", ds_id))?;
    let jobs: Vec<Value> = ds
        .jobs
        .iter()
        .rev()
        .filter(|j| from.is_none_or(|f| j.start_time >= f))
        .filter(|j| to.is_none_or(|t| j.start_time <= t))
        .filter(|j| status.as_deref().is_none_or(|s| j.status == s))
        .map(Job::to_json)
        .collect();
    let (history, next) = page(&jobs, offset, max as usize);
    let mut out = json!({"history": history});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}
