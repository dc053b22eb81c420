//! The permission pages of BC's automation API,
//! `api/microsoft/automation/v2.0/companies({id})/...`, as the APIV2 app's
//! AL pages define them (microsoft/ALAppExtensions
//! `Apps/W1/APIV2/app/src/pages/`; `docs/bc-permissions.md` lists every
//! field, key and navigation with its source):
//!
//! | path | page |
//! |---|---|
//! | `users`, `users({userSecurityId})` | APIV2 - Aut. Users |
//! | `users({id})/userPermissions`, `users({id})/securityGroupMembers` | its parts |
//! | `securityGroups`, `securityGroups('{groupId}')` | APIV2 - Aut. Security Groups |
//! | `securityGroups('{id})/securityGroupMembers`, `/userPermissions`, `/accessControls` | its parts |
//! | `securityGroupMembers` | APIV2 - Aut. Sec. Gr. Members |
//! | `accessControls`, `accessControls({id})` | APIV2 - Access Control |
//! | `expandedPermissionSets`, `expandedPermissionSets({id})` | APIV2 Expanded Permission Sets |
//! | `userPermissions` without a user | the page's error: a user filter is required |
//!
//! The data is tenant-wide: every company of the environment answers the
//! same rows. Read-only (as the pages are, or as bcq uses them). Query
//! options: `$filter` with `eq`/`ne` comparisons joined by `and`/`or` (no
//! parentheses or functions: the emulator says so with a 400), `$select`,
//! `$top`, `$skip`, and server-driven paging (`Prefer:
//! odata.maxpagesize`, `$skiptoken`). Option values are sent as API v2.0
//! sends enum names: a space as `_x0020_` (`Table_x0020_Data`, and a blank
//! permission as `_x0020_`).

use super::sets::{self, STANDARD, TABLES};
use super::{EnvDirectory, Grant};
use crate::error::BcError;
use crate::server::Shared;
use crate::webhooks::api::HookRequest;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// The Base Application's app id (the D365 permission sets).
const BASE_APP: &str = "437dbf0e-84ff-417a-965d-ed2bb9650972";
/// The System Application's app id (SUPER, SECURITY).
const SYSTEM_APP: &str = "63ca2fa4-4f03-4f2b-a480-172fef340d3f";

/// BC's server page size when the client asks for none.
const SERVER_PAGE: usize = 20_000;

/// An entity: its fields in the page's order.
type Entity = Vec<(&'static str, Value)>;

/// Serves the automation API's permission pages; `None` for any other
/// API root.
pub fn handle(
    sh: &Shared,
    method: &Method,
    r: &HookRequest<'_>,
    max_page: Option<usize>,
) -> Option<Response> {
    let api: Vec<&str> = r.api.iter().map(String::as_str).collect();
    if api != ["microsoft", "automation", "v2.0"] {
        return None;
    }
    Some(match answer(sh, method, r, max_page) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    })
}

fn answer(
    sh: &Shared,
    method: &Method,
    r: &HookRequest<'_>,
    max_page: Option<usize>,
) -> Result<Response, BcError> {
    let (env, root, rest, raw_query) = (r.env, r.root, r.rest, r.raw_query);
    let segs: Vec<(&str, Option<&str>)> = rest
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| crate::api::seg(s))
        .collect::<Result<_, _>>()?;
    let Some((("companies", Some(cid)), path)) = segs.split_first() else {
        return Err(crate::api::not_found_segment(
            segs.first().map_or("", |s| s.0),
        ));
    };
    let cid = cid.trim_matches('\'');
    if !sh.envs[env]
        .companies
        .iter()
        .any(|c| c.to_string().eq_ignore_ascii_case(cid))
    {
        return Err(crate::api::company_not_found());
    }
    if method != Method::GET {
        return Err(BcError::Status {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "BadRequest_MethodNotAllowed",
            message: "The emulator's automation API is read-only; change permissions through /_sim/permissions.".into(),
            retry_after: None,
        });
    }
    let d = sh.permissions.snapshot(env);
    // `{set}/$count`: how many rows match the `$filter`, as plain text.
    let counting = path.last() == Some(&("$count", None));
    let path = if counting {
        &path[..path.len() - 1]
    } else {
        path
    };
    let (set, rows, single) = rows_of(&d, path)?;
    if counting {
        let filter = Query::parse(raw_query)?.filter;
        let mut n = 0;
        for row in &rows {
            n += usize::from(filter.matches(row, set)?);
        }
        let mut response = n.to_string().into_response();
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return Ok(response);
    }
    let context = format!(
        "{root}/$metadata#companies({cid})/{set}{}",
        if single { "/$entity" } else { "" }
    );
    if single {
        let row = rows.into_iter().next().ok_or_else(|| BcError::NotFound {
            code: "Internal_RecordNotFound",
            message: format!("The {set} does not exist."),
        })?;
        let mut body = json!({"@odata.context": context});
        extend(&mut body, row);
        return Ok(crate::api::json(body.to_string().into_bytes(), None));
    }
    let query = Query::parse(raw_query)?;
    let mut matching: Vec<Entity> = Vec::new();
    for row in rows {
        if query.filter.matches(&row, set)? {
            matching.push(row);
        }
    }
    let start = query.skip + query.skiptoken;
    let limit = query
        .top
        .map_or(usize::MAX, |t| t.saturating_sub(query.skiptoken));
    let page = max_page.unwrap_or(SERVER_PAGE).clamp(1, SERVER_PAGE);
    let take = page.min(limit);
    let end = (start + take).min(matching.len());
    let mut value = Vec::new();
    for row in matching.get(start.min(end)..end).unwrap_or_default() {
        let mut v = json!({});
        let fields: Entity = match &query.select {
            Some(sel) => {
                for f in sel {
                    if !row.iter().any(|(n, _)| n == f) {
                        return Err(unknown_property(f, set));
                    }
                }
                row.iter()
                    .filter(|(n, _)| sel.iter().any(|f| f == n))
                    .cloned()
                    .collect()
            }
            None => row.clone(),
        };
        extend(&mut v, fields);
        value.push(v);
    }
    let mut body = json!({"@odata.context": context, "value": value});
    if end < matching.len() && take < limit {
        let next = format!(
            "{root}/{}?{}",
            rest.join("/"),
            with_skiptoken(raw_query, end - query.skip)
        );
        body["@odata.nextLink"] = Value::String(next);
    }
    Ok(crate::api::json(
        body.to_string().into_bytes(),
        max_page.filter(|_| value_len(&body) > 0),
    ))
}

fn value_len(body: &Value) -> usize {
    body["value"].as_array().map_or(0, Vec::len)
}

/// Appends `fields` to the JSON object `v`, in order.
fn extend(v: &mut Value, fields: Entity) {
    if let Value::Object(m) = v {
        for (k, val) in fields {
            m.insert(k.to_owned(), val);
        }
    }
}

/// The raw query with `$skiptoken` set to `n`.
fn with_skiptoken(raw: &str, n: usize) -> String {
    let mut parts: Vec<String> = raw
        .split('&')
        .filter(|p| {
            !p.is_empty() && !p.starts_with("$skiptoken=") && !p.starts_with("%24skiptoken=")
        })
        .map(str::to_owned)
        .collect();
    parts.push(format!("$skiptoken={n}"));
    parts.join("&")
}

/// The entity set a path addresses, its rows, and whether it names one
/// entity by key.
fn rows_of(
    d: &EnvDirectory,
    path: &[(&str, Option<&str>)],
) -> Result<(&'static str, Vec<Entity>, bool), BcError> {
    let guid = |k: &str| Uuid::parse_str(k.trim_matches('\'')).ok();
    let bad_key = |set: &str, k: &str| {
        BcError::BadRequest(format!(
            "Bad Request - Error in query syntax: '{k}' is not a valid key of {set}"
        ))
    };
    Ok(match path {
        [("users", None)] => ("users", d.users.iter().map(|u| user(u)).collect(), false),
        [("users", Some(k))] => {
            let id = guid(k).ok_or_else(|| bad_key("users", k))?;
            let rows = d
                .users
                .iter()
                .filter(|u| u.security_id == id)
                .map(user)
                .collect();
            ("users", rows, true)
        }
        [("users", Some(k)), ("userPermissions", key)] => {
            let id = guid(k).ok_or_else(|| bad_key("users", k))?;
            by_key(
                "userPermissions",
                d.grants_of(id).map(user_permission).collect(),
                *key,
            )?
        }
        [("users", Some(k)), ("securityGroupMembers", None)] => {
            let id = guid(k).ok_or_else(|| bad_key("users", k))?;
            let rows = members(d)
                .into_iter()
                .filter(|m| m[0].1 == json!(id))
                .collect();
            ("securityGroupMembers", rows, false)
        }
        [("securityGroups", None)] => (
            "securityGroups",
            d.groups.iter().map(security_group).collect(),
            false,
        ),
        [("securityGroups", Some(k)), rest @ ..] => {
            let k = k.trim_matches('\'');
            let group = d.groups.iter().find(|g| g.group_id.eq_ignore_ascii_case(k));
            match rest {
                [] => (
                    "securityGroups",
                    group.map(security_group).into_iter().collect(),
                    true,
                ),
                [(part, key)] => {
                    let group = group.ok_or_else(|| BcError::NotFound {
                        code: "Internal_RecordNotFound",
                        message: "The securityGroup does not exist.".into(),
                    })?;
                    match *part {
                        "securityGroupMembers" => (
                            "securityGroupMembers",
                            members(d)
                                .into_iter()
                                .filter(|m| m[1].1 == json!(group.code))
                                .collect(),
                            false,
                        ),
                        "userPermissions" => by_key(
                            "userPermissions",
                            d.grants_of(group.group_user_sid)
                                .map(user_permission)
                                .collect(),
                            *key,
                        )?,
                        "accessControls" => by_key(
                            "accessControls",
                            d.grants_of(group.group_user_sid)
                                .map(|g| access_control(d, g))
                                .collect(),
                            *key,
                        )?,
                        other => return Err(crate::api::not_found_segment(other)),
                    }
                }
                _ => return Err(crate::api::not_found_segment("securityGroups")),
            }
        }
        [("securityGroupMembers", None)] => ("securityGroupMembers", members(d), false),
        [("accessControls", key)] => by_key(
            "accessControls",
            d.grants.iter().map(|g| access_control(d, g)).collect(),
            *key,
        )?,
        [("expandedPermissionSets", key)] => by_key("expandedPermissionSets", expanded(), *key)?,
        [("userPermissions", _)] => {
            return Err(BcError::Status {
                status: StatusCode::BAD_REQUEST,
                code: "Application_DialogException",
                message: "You must specify a User Security ID to access user permissions.".into(),
                retry_after: None,
            });
        }
        [(other, _), ..] => return Err(crate::api::not_found_segment(other)),
        [] => return Err(crate::api::not_found_segment("companies")),
    })
}

/// All rows, or the one whose `id` is `key`.
fn by_key(
    set: &'static str,
    rows: Vec<Entity>,
    key: Option<&str>,
) -> Result<(&'static str, Vec<Entity>, bool), BcError> {
    match key {
        None => Ok((set, rows, false)),
        Some(k) => {
            let k = k.trim_matches('\'').to_ascii_lowercase();
            let rows = rows
                .into_iter()
                .filter(|r| r[0].1.as_str() == Some(k.as_str()))
                .collect();
            Ok((set, rows, true))
        }
    }
}

impl EnvDirectory {
    fn grants_of(&self, sid: Uuid) -> impl Iterator<Item = &Grant> {
        self.grants.iter().filter(move |g| g.user_sid == sid)
    }

    /// `(userName, fullName, licence)` of a user or group pseudo-user.
    fn who(&self, sid: Uuid) -> (String, String, &'static str) {
        if let Some(u) = self.users.iter().find(|u| u.security_id == sid) {
            return (u.user_name.clone(), u.display_name.clone(), "Full User");
        }
        if let Some(g) = self.groups.iter().find(|g| g.group_user_sid == sid) {
            return (g.name.to_uppercase(), g.name.clone(), "AAD Group");
        }
        (String::new(), String::new(), "")
    }
}

/// `(appId, appName)` of a standard set.
fn app_of(role_id: &str) -> (&'static str, &'static str) {
    if matches!(role_id, "SUPER" | "SECURITY") {
        (SYSTEM_APP, "System Application")
    } else {
        (BASE_APP, "Base Application")
    }
}

fn role_name(role_id: &str) -> &'static str {
    sets::standard(role_id).map_or("", |s| s.name)
}

fn user(u: &super::User) -> Entity {
    vec![
        ("userSecurityId", json!(u.security_id)),
        ("userName", json!(u.user_name)),
        ("displayName", json!(u.display_name)),
        ("state", json!(u.state)),
        ("expiryDate", json!("0001-01-01T00:00:00Z")),
        ("contactEmail", json!(u.contact_email)),
    ]
}

fn security_group(g: &super::Group) -> Entity {
    vec![
        ("id", json!(g.group_id)),
        ("code", json!(g.code)),
        ("groupName", json!(g.name)),
        ("groupUserSecurityId", json!(g.group_user_sid)),
        ("groupId", json!(g.group_id)),
        ("retrievedSuccessfully", json!(true)),
    ]
}

fn members(d: &EnvDirectory) -> Vec<Entity> {
    let mut rows = Vec::new();
    for g in &d.groups {
        for m in &g.members {
            let (name, full, _) = d.who(*m);
            rows.push(vec![
                ("userSecurityId", json!(m)),
                ("securityGroupCode", json!(g.code)),
                ("securityGroupName", json!(g.name)),
                ("userName", json!(name)),
                ("userFullName", json!(full)),
            ]);
        }
    }
    rows
}

fn user_permission(g: &Grant) -> Entity {
    let (app, app_name) = app_of(&g.role_id);
    vec![
        ("id", json!(g.id)),
        ("userSecurityId", json!(g.user_sid)),
        ("roleId", json!(g.role_id)),
        ("displayName", json!(role_name(&g.role_id))),
        ("company", json!(g.company)),
        ("appId", json!(app)),
        ("extensionName", json!(app_name)),
        ("scope", json!("System")),
    ]
}

fn access_control(d: &EnvDirectory, g: &Grant) -> Entity {
    let (app, app_name) = app_of(&g.role_id);
    let (name, full, licence) = d.who(g.user_sid);
    vec![
        ("id", json!(g.id)),
        ("userSecurityId", json!(g.user_sid)),
        ("roleId", json!(g.role_id)),
        ("roleName", json!(role_name(&g.role_id))),
        ("company", json!(g.company)),
        ("userName", json!(name)),
        ("fullName", json!(full)),
        ("userLicenseType", json!(licence)),
        ("scope", json!("System")),
        ("appId", json!(app)),
        ("appName", json!(app_name)),
    ]
}

/// Every standard set expanded to its table-data permissions.
fn expanded() -> Vec<Entity> {
    let blank = "_x0020_";
    let mut rows = Vec::new();
    for set in STANDARD {
        let (app, app_name) = app_of(set.role_id);
        let row = |object_id: u32, object_name: &str, read: &str, others: &str| -> Entity {
            let id = Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("bc-sim/expanded/{}/{object_id}", set.role_id).as_bytes(),
            );
            vec![
                ("id", json!(id)),
                ("appId", json!(app)),
                ("appName", json!(app_name)),
                ("roleId", json!(set.role_id)),
                ("roleName", json!(set.name)),
                ("objectType", json!("Table_x0020_Data")),
                ("objectId", json!(object_id)),
                ("objectName", json!(object_name)),
                ("readPermission", json!(read)),
                ("insertPermission", json!(others)),
                ("modifyPermission", json!(others)),
                ("deletePermission", json!(others)),
                ("executePermission", json!(others)),
                ("alObjectName", json!(object_name)),
                ("scope", json!("System")),
            ]
        };
        if set.grants == "*" {
            rows.push(row(0, "", "Yes", "Yes"));
            continue;
        }
        for (i, (table, name)) in TABLES.iter().enumerate() {
            if let Some(read) = sets::read_of(set, i) {
                rows.push(row(*table, name, read, blank));
            }
        }
    }
    rows
}

fn unknown_property(name: &str, set: &str) -> BcError {
    BcError::BadRequest(format!(
        "Could not find a property named '{name}' on type 'Microsoft.NAV.{}'.",
        set.trim_end_matches('s')
    ))
}

/// The query options these pages take.
#[derive(Default)]
struct Query {
    filter: Filter,
    select: Option<Vec<String>>,
    top: Option<usize>,
    skip: usize,
    skiptoken: usize,
}

impl Query {
    fn parse(raw: &str) -> Result<Query, BcError> {
        let mut q = Query::default();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let (k, v) = (crate::query::decode(k), crate::query::decode(v));
            let number = |v: &str| {
                v.parse::<usize>()
                    .map_err(|_| BcError::BadRequest(format!("Invalid value '{v}' for {k}.")))
            };
            match k.as_str() {
                "$filter" => q.filter = Filter::parse(&v)?,
                "$select" => q.select = Some(v.split(',').map(|s| s.trim().to_owned()).collect()),
                "$top" => q.top = Some(number(&v)?),
                "$skip" => q.skip = number(&v)?,
                "$skiptoken" => q.skiptoken = number(&v)?,
                "$count" | "$orderby" | "$expand" | "$search" | "$apply" => {
                    return Err(BcError::BadRequest(format!(
                        "The query option {k} is not supported by the emulator's automation API pages."
                    )));
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

/// `$filter`: comparisons joined by `and` (tighter) and `or`.
#[derive(Default)]
struct Filter {
    /// Disjunction of conjunctions; empty: everything matches.
    any: Vec<Vec<Comparison>>,
}

struct Comparison {
    field: String,
    equal: bool,
    literal: Value,
}

impl Filter {
    fn parse(src: &str) -> Result<Filter, BcError> {
        if src.contains('(') {
            return Err(BcError::BadRequest(
                "The emulator's automation API pages take comparisons joined by and/or, without parentheses or functions.".into(),
            ));
        }
        let mut any = Vec::new();
        for alternative in split_outside_quotes(src, " or ") {
            let mut all = Vec::new();
            for clause in split_outside_quotes(&alternative, " and ") {
                all.push(Comparison::parse(clause.trim())?);
            }
            any.push(all);
        }
        Ok(Filter { any })
    }

    fn matches(&self, row: &Entity, set: &str) -> Result<bool, BcError> {
        if self.any.is_empty() {
            return Ok(true);
        }
        for all in &self.any {
            let mut ok = true;
            for c in all {
                let value = row
                    .iter()
                    .find(|(n, _)| *n == c.field)
                    .map(|(_, v)| v)
                    .ok_or_else(|| unknown_property(&c.field, set))?;
                let same = match (value, &c.literal) {
                    (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
                    (a, b) => a == b,
                };
                ok &= same == c.equal;
            }
            if ok {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl Comparison {
    fn parse(clause: &str) -> Result<Comparison, BcError> {
        let mut it = clause.splitn(3, ' ');
        let (field, op, lit) = (it.next(), it.next(), it.next());
        let (Some(field), Some(op), Some(lit)) = (field, op, lit) else {
            return Err(BcError::BadRequest(format!(
                "Syntax error in the filter clause '{clause}'."
            )));
        };
        let equal = match op {
            "eq" => true,
            "ne" => false,
            other => {
                return Err(BcError::BadRequest(format!(
                    "The emulator's automation API pages compare with eq and ne only, not '{other}'."
                )));
            }
        };
        let lit = lit.trim();
        let literal = if let Some(s) = lit.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            Value::String(s.replace("''", "'"))
        } else if let Ok(n) = lit.parse::<i64>() {
            json!(n)
        } else if let Ok(b) = lit.parse::<bool>() {
            json!(b)
        } else if let Ok(g) = Uuid::parse_str(lit) {
            json!(g)
        } else {
            return Err(BcError::BadRequest(format!(
                "Unrecognized literal '{lit}' in the filter clause '{clause}'."
            )));
        };
        Ok(Comparison {
            field: field.to_owned(),
            equal,
            literal,
        })
    }
}

/// Splits at `sep` where it is not inside a quoted literal.
fn split_outside_quotes(src: &str, sep: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut rest = src;
    while !rest.is_empty() {
        if !quoted && rest.starts_with(sep) {
            out.push(std::mem::take(&mut current));
            rest = &rest[sep.len()..];
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        if c == '\'' {
            quoted = !quoted;
        }
        current.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out.push(current);
    out
}
