//! CheckDocumentAccess, PutGroup, GetGroup, DeleteGroup.
//!
//! Evaluation of a document's `accessConfiguration`: a matching DENY
//! principal (user id, case-insensitive, or a group the user belongs to,
//! directly or through nested groups) denies; otherwise each access control
//! is satisfied when its ALLOW principals match under its `memberRelation`
//! (default OR) and the controls combine under the top-level
//! `memberRelation` (default OR). A document without `accessConfiguration`
//! or with only DENY principals, is readable by everyone not denied.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{APP, INDEX, Req};
use crate::error::QError;
use crate::shared::Shared;
use crate::state::{Group, now_secs};
use crate::validate::Validator;

/// Groups a user belongs to, directly or through nested groups.
pub fn user_groups(groups: &BTreeMap<String, Group>, user: &str) -> BTreeSet<String> {
    let mut member: BTreeSet<String> = groups
        .values()
        .filter(|g| g.users.iter().any(|u| u.eq_ignore_ascii_case(user)))
        .map(|g| g.name.clone())
        .collect();
    loop {
        let more: Vec<String> = groups
            .values()
            .filter(|g| !member.contains(&g.name) && g.groups.iter().any(|n| member.contains(n)))
            .map(|g| g.name.clone())
            .collect();
        if more.is_empty() {
            return member;
        }
        member.extend(more);
    }
}

fn principal_matches(
    p: &Value,
    user: &str,
    groups: &BTreeSet<String>,
) -> Option<(bool, &'static str)> {
    if let Some(u) = p.get("user") {
        let access = if u["access"] == "DENY" {
            "DENY"
        } else {
            "ALLOW"
        };
        return Some((
            u["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(user)),
            access,
        ));
    }
    if let Some(g) = p.get("group") {
        let access = if g["access"] == "DENY" {
            "DENY"
        } else {
            "ALLOW"
        };
        return Some((
            g["name"].as_str().is_some_and(|n| groups.contains(n)),
            access,
        ));
    }
    None
}

fn relation(v: &Value) -> &str {
    v.get("memberRelation")
        .and_then(Value::as_str)
        .unwrap_or("OR")
}

/// Decides access and builds the `documentAcl` member.
pub fn evaluate(access: &Value, user: &str, groups: &BTreeSet<String>) -> (bool, Value) {
    let controls = access
        .get("accessControls")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut denied = false;
    let mut satisfied = Vec::new();
    let (mut allow_conds, mut deny_conds) = (Vec::new(), Vec::new());
    for c in &controls {
        let principals = c
            .get("principals")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut allow_hits = Vec::new();
        let (mut au, mut ag, mut du, mut dg) = (vec![], vec![], vec![], vec![]);
        for p in &principals {
            let Some((hit, kind)) = principal_matches(p, user, groups) else {
                continue;
            };
            if kind == "DENY" {
                denied |= hit;
            } else {
                allow_hits.push(hit);
            }
            if let Some(u) = p.get("user") {
                let e = json!({"id": u["id"], "type": u.get("membershipType").cloned().unwrap_or(json!("INDEX"))});
                if kind == "DENY" {
                    du.push(e)
                } else {
                    au.push(e)
                }
            } else if let Some(g) = p.get("group") {
                let e = json!({"name": g["name"], "type": g.get("membershipType").cloned().unwrap_or(json!("INDEX"))});
                if kind == "DENY" {
                    dg.push(e)
                } else {
                    ag.push(e)
                }
            }
        }
        if !allow_hits.is_empty() {
            satisfied.push(if relation(c) == "AND" {
                allow_hits.iter().all(|h| *h)
            } else {
                allow_hits.iter().any(|h| *h)
            });
        }
        if !au.is_empty() || !ag.is_empty() {
            allow_conds.push(json!({"memberRelation": relation(c), "users": au, "groups": ag}));
        }
        if !du.is_empty() || !dg.is_empty() {
            deny_conds.push(json!({"memberRelation": relation(c), "users": du, "groups": dg}));
        }
    }
    // Only DENY principals: everyone else may read the document.
    let allowed = if satisfied.is_empty() {
        true
    } else if relation(access) == "AND" {
        satisfied.iter().all(|s| *s)
    } else {
        satisfied.iter().any(|s| *s)
    };
    let acl = json!({
        "allowlist": {"memberRelation": relation(access), "conditions": allow_conds},
        "denyList": {"memberRelation": relation(access), "conditions": deny_conds},
    });
    (allowed && !denied, acl)
}

/// CheckDocumentAccess.
pub fn check_document_access(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let mut v = Validator::new();
    req.check_ids(
        &mut v,
        &[
            APP,
            INDEX,
            ("userId", "String"),
            ("documentId", "DocumentId"),
        ],
    );
    let ds = req
        .query("dataSourceId")
        .map(|s| Value::String(s.to_string()));
    v.string("dataSourceId", ds.as_ref(), "DataSourceId", false);
    v.finish()?;
    let mut inner = shared.lock();
    let idx = inner
        .state
        .index(req.label("applicationId"), req.label("indexId"))?;
    let user = req.label("userId");
    let doc_id = req.label("documentId");
    let doc = idx
        .documents
        .get(doc_id)
        .filter(|d| d.status != "DELETING" && d.status != "DELETED")
        .ok_or_else(|| QError::not_found("Document", doc_id))?;
    let groups = user_groups(&idx.groups, user);
    let user_groups: Vec<Value> = groups
        .iter()
        .map(|g| json!({"name": g, "type": idx.groups[g].membership_type}))
        .collect();
    let (has_access, acl) = match &doc.access {
        None => (true, json!({})),
        Some(a) => evaluate(a, user, &groups),
    };
    Ok(json!({
        "hasAccess": has_access,
        "userGroups": user_groups,
        "userAliases": [{"id": user, "type": "INDEX"}],
        "documentAcl": acl,
    }))
}

/// PutGroup (inline members only; `s3PathForGroupMembers` cannot be read).
pub fn put_group(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let body = crate::validate::parse_body(req.body)?;
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP, INDEX]);
    let name = v.string("groupName", body.get("groupName"), "GroupName", true);
    let ds = v.string(
        "dataSourceId",
        body.get("dataSourceId"),
        "DataSourceId",
        false,
    );
    let ty = v.enumeration("type", body.get("type"), "MembershipType", true);
    v.string("roleArn", body.get("roleArn"), "RoleArn", false);
    let (mut users, mut groups) = (Vec::new(), Vec::new());
    if let Some(m) = v.object("groupMembers", body.get("groupMembers"), true) {
        if m.get("s3PathForGroupMembers").is_some_and(|s| !s.is_null()) {
            v.fail(
                "groupMembers.s3PathForGroupMembers",
                "The emulator cannot read group members from S3",
            );
        }
        if let Some(l) = v.list(
            "groupMembers.memberUsers",
            m.get("memberUsers"),
            "MemberUsers",
            false,
        ) {
            for (i, u) in l.iter().enumerate() {
                let p = format!("groupMembers.memberUsers.{}.member", i + 1);
                if let Some(o) = v.object(&p, Some(u), true) {
                    v.enumeration(&format!("{p}.type"), o.get("type"), "MembershipType", false);
                    users.extend(v.string(
                        &format!("{p}.userId"),
                        o.get("userId"),
                        "DataSourceUserId",
                        true,
                    ));
                }
            }
        }
        if let Some(l) = v.list(
            "groupMembers.memberGroups",
            m.get("memberGroups"),
            "MemberGroups",
            false,
        ) {
            for (i, g) in l.iter().enumerate() {
                let p = format!("groupMembers.memberGroups.{}.member", i + 1);
                if let Some(o) = v.object(&p, Some(g), true) {
                    v.enumeration(&format!("{p}.type"), o.get("type"), "MembershipType", false);
                    groups.extend(v.string(
                        &format!("{p}.groupName"),
                        o.get("groupName"),
                        "GroupName",
                        true,
                    ));
                }
            }
        }
    }
    v.finish()?;
    let mut inner = shared.lock();
    let idx = group_index(&mut inner.state, req, &ds)?;
    let name = name.unwrap_or_default();
    idx.groups.insert(
        name.clone(),
        Group {
            name,
            membership_type: ty.unwrap_or_else(|| "INDEX".into()),
            data_source_id: ds,
            users,
            groups,
            updated_at: now_secs(),
        },
    );
    inner.dirty = true;
    Ok(json!({}))
}

/// The validated ids of a call on one group (GetGroup, DeleteGroup): the
/// path's, and the optional `dataSourceId` query parameter.
fn group_path(req: &Req) -> Result<Option<String>, QError> {
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP, INDEX, ("groupName", "GroupName")]);
    let ds = req
        .query("dataSourceId")
        .map(|s| Value::String(s.to_string()));
    let ds = v.string("dataSourceId", ds.as_ref(), "DataSourceId", false);
    v.finish()?;
    Ok(ds)
}

/// The request's index, once the data source a group call names exists.
fn group_index<'a>(
    state: &'a mut crate::state::State,
    req: &Req,
    data_source: &Option<String>,
) -> Result<&'a mut crate::state::Index, QError> {
    let idx = state.index(req.label("applicationId"), req.label("indexId"))?;
    if let Some(d) = data_source
        && !idx.data_sources.contains_key(d)
    {
        return Err(QError::not_found("DataSource", d));
    }
    Ok(idx)
}

/// DeleteGroup: the group's mapping is gone; documents that name it no
/// longer grant its members anything.
pub fn delete_group(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let ds = group_path(req)?;
    let mut inner = shared.lock();
    let idx = group_index(&mut inner.state, req, &ds)?;
    let name = req.label("groupName");
    idx.groups
        .remove(name)
        .ok_or_else(|| QError::not_found("Group", name))?;
    inner.dirty = true;
    Ok(json!({}))
}

/// GetGroup.
pub fn get_group(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let ds = group_path(req)?;
    let mut inner = shared.lock();
    let idx = group_index(&mut inner.state, req, &ds)?;
    let name = req.label("groupName");
    let g = idx
        .groups
        .get(name)
        .ok_or_else(|| QError::not_found("Group", name))?;
    let st = json!({"status": "SUCCEEDED", "lastUpdatedAt": g.updated_at});
    Ok(json!({"status": st, "statusHistory": [st]}))
}
