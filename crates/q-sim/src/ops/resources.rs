//! CreateApplication, GetApplication, CreateIndex, GetIndex, UpdateIndex,
//! CreateDataSource, GetDataSource.

use serde_json::{Value, json};

use super::{APP, DS, INDEX, Req};
use crate::error::QError;
use crate::shared::Shared;
use crate::state::{App, AttrConfig, DataSource, State, arn, new_index, now_secs};
use crate::validate::{Validator, parse_body};

/// The earlier answer to a create with the same idempotency token.
fn replay(state: &State, op: &str, token: Option<&str>) -> Option<Value> {
    state
        .client_tokens
        .get(&format!("{op}:{}", token?))
        .cloned()
}

/// Keeps a create's answer for its idempotency token.
fn remember(state: &mut State, op: &str, token: Option<String>, out: &Value) {
    if let Some(t) = token {
        state.client_tokens.insert(format!("{op}:{t}"), out.clone());
    }
}

fn tags(v: &mut Validator, body: &Value) {
    if let Some(l) = v.list("tags", body.get("tags"), "Tags", false) {
        for (i, t) in l.iter().enumerate() {
            let p = format!("tags.{}.member", i + 1);
            if let Some(o) = v.object(&p, Some(t), true) {
                v.string(&format!("{p}.key"), o.get("key"), "TagKey", true);
                v.string(&format!("{p}.value"), o.get("value"), "TagValue", true);
            }
        }
    }
}

/// CreateApplication.
pub fn create_application(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let body = parse_body(req.body)?;
    let mut v = Validator::new();
    let name = v.string(
        "displayName",
        body.get("displayName"),
        "ApplicationName",
        true,
    );
    let description = v.string("description", body.get("description"), "Description", false);
    let role = v.string("roleArn", body.get("roleArn"), "RoleArn", false);
    let identity = v.enumeration(
        "identityType",
        body.get("identityType"),
        "IdentityType",
        false,
    );
    let token = v.string("clientToken", body.get("clientToken"), "ClientToken", false);
    tags(&mut v, &body);
    v.finish()?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_secs();
    let mut inner = shared.lock();
    if let Some(r) = replay(&inner.state, "CreateApplication", token.as_deref()) {
        return Ok(r);
    }
    inner.state.apps.insert(
        id.clone(),
        App {
            id: id.clone(),
            display_name: name.unwrap_or_default(),
            description,
            identity_type: identity,
            role_arn: role,
            created_at: now,
            updated_at: now,
            indices: Default::default(),
        },
    );
    let out = json!({"applicationId": id, "applicationArn": arn(&shared.cfg.region, &format!("application/{id}"))});
    remember(&mut inner.state, "CreateApplication", token, &out);
    inner.dirty = true;
    Ok(out)
}

/// GetApplication.
pub fn get_application(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP]);
    v.finish()?;
    let mut inner = shared.lock();
    let a = inner.state.app(req.label("applicationId"))?;
    let mut out = json!({
        "displayName": a.display_name, "applicationId": a.id,
        "applicationArn": arn(&shared.cfg.region, &format!("application/{}", a.id)),
        "status": "ACTIVE", "createdAt": a.created_at, "updatedAt": a.updated_at,
        "attachmentsConfiguration": {"attachmentsControlMode": "DISABLED"},
    });
    if let Some(d) = &a.description {
        out["description"] = json!(d);
    }
    if let Some(t) = &a.identity_type {
        out["identityType"] = json!(t);
    }
    if let Some(r) = &a.role_arn {
        out["roleArn"] = json!(r);
    }
    Ok(out)
}

/// CreateIndex.
pub fn create_index(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let body = parse_body(req.body)?;
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP]);
    let name = v.string("displayName", body.get("displayName"), "IndexName", true);
    let description = v.string("description", body.get("description"), "Description", false);
    let ty = v.enumeration("type", body.get("type"), "IndexType", false);
    let units = v
        .object(
            "capacityConfiguration",
            body.get("capacityConfiguration"),
            false,
        )
        .and_then(|c| v.long("capacityConfiguration.units", c.get("units"), false))
        .and_then(|n| {
            v.int(
                "capacityConfiguration.units",
                Some(n),
                "IndexCapacityInteger",
            )
        });
    let token = v.string("clientToken", body.get("clientToken"), "ClientToken", false);
    tags(&mut v, &body);
    v.finish()?;
    let mut inner = shared.lock();
    if let Some(r) = replay(&inner.state, "CreateIndex", token.as_deref()) {
        return Ok(r);
    }
    let app_id = req.label("applicationId").to_string();
    let app = inner.state.app(&app_id)?;
    let id = uuid::Uuid::new_v4().to_string();
    app.indices.insert(
        id.clone(),
        new_index(
            &id,
            &name.unwrap_or_default(),
            description,
            ty.as_deref().unwrap_or("ENTERPRISE"),
            units,
        ),
    );
    let out = json!({"indexId": id, "indexArn": arn(&shared.cfg.region, &format!("application/{app_id}/index/{id}"))});
    remember(&mut inner.state, "CreateIndex", token, &out);
    inner.dirty = true;
    Ok(out)
}

/// GetIndex.
pub fn get_index(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP, INDEX]);
    v.finish()?;
    let mut inner = shared.lock();
    let app_id = req.label("applicationId").to_string();
    let idx = inner.state.index(&app_id, req.label("indexId"))?;
    let indexed: Vec<_> = idx
        .documents
        .values()
        .filter(|d| d.status == "INDEXED" || d.status == "UPDATED")
        .collect();
    let bytes: usize = indexed
        .iter()
        .map(|d| d.text.as_ref().map_or(0, |t| t.len()))
        .sum();
    let mut out = json!({
        "applicationId": app_id, "indexId": idx.id, "displayName": idx.display_name,
        "indexArn": arn(&shared.cfg.region, &format!("application/{app_id}/index/{}", idx.id)),
        "status": "ACTIVE", "type": idx.index_type, "createdAt": idx.created_at, "updatedAt": idx.updated_at,
        "indexStatistics": {"textDocumentStatistics": {"indexedTextBytes": bytes, "indexedTextDocumentCount": indexed.len()}},
    });
    if !idx.attributes.is_empty() {
        out["documentAttributeConfigurations"] =
            serde_json::to_value(&idx.attributes).unwrap_or_default();
    }
    if let Some(d) = &idx.description {
        out["description"] = json!(d);
    }
    if let Some(u) = idx.units {
        out["capacityConfiguration"] = json!({"units": u});
    }
    Ok(out)
}

/// UpdateIndex: `documentAttributeConfigurations` are merged by name; the
/// type of a declared attribute cannot change (as in Kendra, Q's ancestor).
pub fn update_index(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let body = parse_body(req.body)?;
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP, INDEX]);
    let name = v.string(
        "displayName",
        body.get("displayName"),
        "ApplicationName",
        false,
    );
    let description = v.string("description", body.get("description"), "Description", false);
    let units = v
        .object(
            "capacityConfiguration",
            body.get("capacityConfiguration"),
            false,
        )
        .and_then(|c| v.long("capacityConfiguration.units", c.get("units"), false))
        .and_then(|n| {
            v.int(
                "capacityConfiguration.units",
                Some(n),
                "IndexCapacityInteger",
            )
        });
    let mut configs = Vec::new();
    if let Some(l) = v.list(
        "documentAttributeConfigurations",
        body.get("documentAttributeConfigurations"),
        "DocumentAttributeConfigurations",
        false,
    ) {
        for (i, c) in l.iter().enumerate() {
            let p = format!("documentAttributeConfigurations.{}.member", i + 1);
            if let Some(o) = v.object(&p, Some(c), true) {
                let name = v.string(
                    &format!("{p}.name"),
                    o.get("name"),
                    "DocumentMetadataConfigurationName",
                    false,
                );
                let ty = v.enumeration(&format!("{p}.type"), o.get("type"), "AttributeType", false);
                let search =
                    v.enumeration(&format!("{p}.search"), o.get("search"), "Status", false);
                match name {
                    Some(name) => configs.push(AttrConfig { name, ty, search }),
                    None => v.fail(&format!("{p}.name"), "Member must not be null"),
                }
            }
        }
    }
    v.finish()?;
    let mut inner = shared.lock();
    let idx = inner
        .state
        .index(req.label("applicationId"), req.label("indexId"))?;
    let mut v = Validator::new();
    for (i, c) in configs.iter().enumerate() {
        if let Some(old) = idx.attributes.iter().find(|a| a.name == c.name)
            && c.ty.is_some()
            && old.ty != c.ty
        {
            v.fail(
                &format!("documentAttributeConfigurations.{}.member.type", i + 1),
                format!(
                    "The type of attribute {} cannot be changed from {}",
                    c.name,
                    old.ty.as_deref().unwrap_or("unset")
                ),
            );
        }
    }
    v.finish()?;
    for c in configs {
        match idx.attributes.iter_mut().find(|a| a.name == c.name) {
            Some(a) => {
                if c.search.is_some() {
                    a.search = c.search;
                }
            }
            None => idx.attributes.push(c),
        }
    }
    if let Some(n) = name {
        idx.display_name = n;
    }
    if description.is_some() {
        idx.description = description;
    }
    if units.is_some() {
        idx.units = units;
    }
    idx.updated_at = now_secs();
    inner.dirty = true;
    Ok(json!({}))
}

/// CreateDataSource: the `configuration` document must carry a string
/// `type`; for `CUSTOM` sources `version` must be `1.0.0` (the only schema
/// version AWS documents for custom connectors).
pub fn create_data_source(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let body = parse_body(req.body)?;
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP, INDEX]);
    let name = v.string(
        "displayName",
        body.get("displayName"),
        "DataSourceName",
        true,
    );
    let description = v.string("description", body.get("description"), "Description", false);
    let role = v.string("roleArn", body.get("roleArn"), "RoleArn", false);
    let schedule = v.string(
        "syncSchedule",
        body.get("syncSchedule"),
        "SyncSchedule",
        false,
    );
    let token = v.string("clientToken", body.get("clientToken"), "ClientToken", false);
    tags(&mut v, &body);
    let mut ds_type = String::new();
    if let Some(c) = v.object("configuration", body.get("configuration"), true) {
        match c.get("type").and_then(Value::as_str) {
            Some(t) => ds_type = t.to_string(),
            None => v.fail("configuration.type", "Member must not be null"),
        }
        if ds_type == "CUSTOM" && c.get("version").and_then(Value::as_str) != Some("1.0.0") {
            v.fail(
                "configuration.version",
                "CUSTOM data source configuration must have version 1.0.0",
            );
        }
    }
    v.finish()?;
    let mut inner = shared.lock();
    if let Some(r) = replay(&inner.state, "CreateDataSource", token.as_deref()) {
        return Ok(r);
    }
    let app_id = req.label("applicationId").to_string();
    let index_id = req.label("indexId").to_string();
    let idx = inner.state.index(&app_id, &index_id)?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_secs();
    idx.data_sources.insert(
        id.clone(),
        DataSource {
            id: id.clone(),
            display_name: name.unwrap_or_default(),
            ds_type,
            configuration: body["configuration"].clone(),
            description,
            role_arn: role,
            sync_schedule: schedule,
            created_at: now,
            updated_at: now,
            jobs: Vec::new(),
        },
    );
    let out = json!({"dataSourceId": id, "dataSourceArn": arn(&shared.cfg.region, &format!("application/{app_id}/index/{index_id}/data-source/{id}"))});
    remember(&mut inner.state, "CreateDataSource", token, &out);
    inner.dirty = true;
    Ok(out)
}

/// GetDataSource.
pub fn get_data_source(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP, INDEX, DS]);
    v.finish()?;
    let mut inner = shared.lock();
    let app_id = req.label("applicationId").to_string();
    let idx = inner.state.index(&app_id, req.label("indexId"))?;
    let ds_id = req.label("dataSourceId");
    let ds = idx
        .data_sources
        .get(ds_id)
        .ok_or_else(|| QError::not_found("DataSource", ds_id))?;
    let mut out = json!({
        "applicationId": app_id, "indexId": idx.id, "dataSourceId": ds.id,
        "dataSourceArn": arn(&shared.cfg.region, &format!("application/{app_id}/index/{}/data-source/{}", idx.id, ds.id)),
        "displayName": ds.display_name, "type": ds.ds_type, "configuration": ds.configuration,
        "createdAt": ds.created_at, "updatedAt": ds.updated_at, "status": "ACTIVE",
    });
    if let Some(d) = &ds.description {
        out["description"] = json!(d);
    }
    if let Some(r) = &ds.role_arn {
        out["roleArn"] = json!(r);
    }
    if let Some(s) = &ds.sync_schedule {
        out["syncSchedule"] = json!(s);
    }
    Ok(out)
}
