//! `sync.access_source = "bc"`: the access lists of a run, derived from
//! Business Central's own permissions at the start of every run.
//!
//! For each environment, BC's users, security groups, assignments and
//! expanded permission sets are read ([`bcq_core::bc_access::read`], five
//! requests); for each unit of a catalog entity, the principals who may
//! read it ([`bcq_core::bc_access::Directory::readers`]) become one access
//! rule ALLOWing them, placed before the configured `[[access]]` rules, which
//! still decide what BC cannot (custom API pages) and can publish on
//! purpose where no BC rule applies. Users are named by the `[bc_users]`
//! table, else their contact email or `sync.bc_user_email`'s template; a
//! user that maps to no email is
//! reported and gets no access (never a silent drop). Groups are named as
//! the identity source names them (Entra display name, or object id), or,
//! for a destination whose lists name users only, expanded into their
//! members. Because a unit's access list is part of its settings
//! fingerprint, a permission change in BC re-pushes exactly the units whose
//! readers changed.

use crate::config::{BcAccess, Config};
use crate::plan::Target;
use bcq_core::acl::{AccessPolicy, AccessRule};
use bcq_core::bc_access::{self, Directory, Principal as BcPrincipal, tables_of};
use bcq_core::document::{AccessControl, Membership, Principal, PrincipalKind};
use std::collections::BTreeMap;

/// What deriving the access lists found.
#[derive(Debug, Default)]
pub struct Derived {
    /// The rules from BC, one per (environment, company, entity).
    pub rules: Vec<AccessRule>,
    /// What could not be honoured (users without an email, rows BC sent
    /// in an unknown shape), to report.
    pub problems: Vec<String>,
    /// BC requests the permission read cost.
    pub requests: u64,
    /// Per unit (`entity of company`), who BC lets read it and through
    /// which permission sets, for `bcq check`.
    pub who: Vec<(String, String)>,
}

/// Permission sets with their company scope, as a person reads them.
fn sets_text(sets: &[(String, String)]) -> String {
    sets.iter()
        .map(|(set, c)| {
            if c.is_empty() {
                format!("{set} (every company)")
            } else {
                format!("{set} ({c})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The email of a BC user under `how`, if any.
fn email_of(how: &BcAccess, d: &Directory, user_name: &str) -> Option<String> {
    let user = d.users.iter().find(|u| u.user_name == user_name)?;
    if let Some(e) = how.user_emails.get(&user.user_name.to_uppercase()) {
        return Some(e.clone());
    }
    match &how.user_email_template {
        Some(t) => Some(t.replace("{user}", &user.user_name.to_lowercase())),
        None => Some(user.contact_email.trim().to_owned()).filter(|e| e.contains('@')),
    }
}

/// The principals of a unit's readers.
fn principals(
    how: &BcAccess,
    d: &Directory,
    company: &str,
    tables: &[u32],
    groups_allowed: bool,
    unit: &str,
    problems: &mut Vec<String>,
) -> Vec<Principal> {
    let mut out = Vec::new();
    let mut user = |name: &str, out: &mut Vec<Principal>| {
        match email_of(how, d, name) {
        Some(email) => out.push(Principal {
            kind: PrincipalKind::User,
            id: email,
            allow: true,
            membership: Membership::Index,
        }),
        None => problems.push(format!(
            "BC user {name} may read {unit} but has no email to name them by (add them to [bc_users], set their contact email in BC, or BCQ_BC_USER_EMAIL to a template): they get no access"
        )),
    }
    };
    if groups_allowed {
        for p in d.readers(company, tables).keys() {
            match p {
                BcPrincipal::User(name) => user(name, &mut out),
                BcPrincipal::Group(code) => {
                    if let Some(g) = d.groups.iter().find(|g| &g.code == code) {
                        out.push(Principal {
                            kind: PrincipalKind::Group,
                            id: if how.group_by_id {
                                g.group_id.clone()
                            } else {
                                g.name.clone()
                            },
                            allow: true,
                            membership: Membership::Index,
                        });
                    }
                }
            }
        }
    } else {
        for name in d.reading_users(company, tables).keys() {
            user(name, &mut out);
        }
    }
    out
}

/// Reads BC's permissions for every environment of `targets` and turns
/// them into access rules for the configured entities.
pub async fn derive(
    cfg: &Config,
    how: &BcAccess,
    targets: &[Target],
    groups_allowed: bool,
) -> anyhow::Result<Derived> {
    let mut out = Derived::default();
    if !groups_allowed {
        tracing::info!(
            "the destination's access lists name users only: Business Central's security groups are expanded into their members"
        );
    }
    for t in targets {
        let Some((first, _)) = t.companies.first() else {
            continue;
        };
        let before = t.client.stats();
        let (d, problems) = bc_access::read(&t.client, first).await.map_err(|e| {
            anyhow::anyhow!(
                "reading Business Central's permissions of {} (sync.access_source = bc needs read access to the automation API's users, securityGroups, securityGroupMembers, accessControls and expandedPermissionSets): {e}",
                t.environment
            )
        })?;
        out.requests += t.client.stats().since(&before).requests;
        out.problems.extend(problems);
        for (company_id, company_name) in &t.companies {
            for spec in &cfg.sync.entities {
                let Some(tables) = tables_of(spec.entity_set) else {
                    continue;
                };
                let unit = format!("{}/{company_id}/{}", t.environment, spec.entity_set);
                let principals = principals(
                    how,
                    &d,
                    company_name,
                    tables,
                    groups_allowed,
                    &unit,
                    &mut out.problems,
                );
                let who: Vec<String> =
                    d.readers(company_name, tables)
                        .iter()
                        .map(|(p, why)| {
                            let name = match p {
                                BcPrincipal::User(u) => email_of(how, &d, u)
                                    .unwrap_or_else(|| format!("{u} (no email)")),
                                BcPrincipal::Group(code) => {
                                    d.groups.iter().find(|g| &g.code == code).map_or_else(
                                        || format!("group {code}"),
                                        |g| format!("group {}", g.name),
                                    )
                                }
                            };
                            format!("{name} through {}", sets_text(&why.sets))
                        })
                        .collect();
                out.who.push((
                    format!("{} of {company_name}", spec.entity_set),
                    if who.is_empty() {
                        "nobody".to_owned()
                    } else {
                        who.join("; ")
                    },
                ));
                out.rules.push(AccessRule {
                    environments: vec![t.environment.clone()],
                    // By id and by name, as configured rules may name it.
                    companies: vec![company_id.clone(), company_name.clone()],
                    entities: vec![spec.entity_set.to_owned()],
                    control: Some(AccessControl {
                        member_relation_or: true,
                        principals,
                    }),
                });
            }
        }
    }
    // One report per user, not per unit.
    let mut seen = BTreeMap::new();
    out.problems.retain(|p| {
        seen.insert(p.split(" may read ").next().unwrap_or(p).to_owned(), ())
            .is_none()
    });
    Ok(out)
}

/// `cfg` with the derived rules before its own, each merged with the
/// configured rule that matches its unit, if any: a rule that publishes
/// (`public = true`) publishes the unit on purpose, and a restricting rule's
/// DENYs are added to BC's ALLOWs (a DENY wins). The configured rules still
/// decide every unit BC does not (custom API pages).
pub fn with_rules(cfg: &Config, rules: Vec<AccessRule>) -> Config {
    use bcq_core::acl::Resolved;
    let configured = &cfg.sync.access;
    let rules = rules
        .into_iter()
        .map(|mut rule| {
            let field = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_default();
            let (env, company_id, company_name, entity) = (
                field(&rule.environments, 0),
                field(&rule.companies, 0),
                field(&rule.companies, 1),
                field(&rule.entities, 0),
            );
            match configured.resolve(&env, &company_id, &company_name, &entity) {
                Resolved::Public => rule.control = None,
                Resolved::Restricted(c) => {
                    if let Some(own) = &mut rule.control {
                        own.principals
                            .extend(c.principals.iter().filter(|p| !p.allow).cloned());
                    }
                }
                Resolved::Unmatched => {}
            }
            rule
        })
        .collect();
    let mut policy = AccessPolicy { rules };
    policy.rules.extend(configured.rules.iter().cloned());
    let mut out = cfg.clone();
    out.sync.access = std::sync::Arc::new(policy);
    out
}

/// `bcq access explain`: for each company and entity (optionally one of
/// each), whether `who` (a BC user name, or the email bcq names them by)
/// may read its documents, and why, as the access lists of a run would
/// say. Lines start with ✔ (may read), ✖ (may not) or ? (BC's permissions
/// do not decide: a custom page, left to the `[[access]]` rules).
pub async fn explain(
    cfg: &Config,
    who: &str,
    entity: Option<&str>,
    company: Option<&str>,
    groups_allowed: bool,
) -> anyhow::Result<Vec<String>> {
    let how = cfg.sync.bc_access.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "bcq access explain reads Business Central's permissions: set BCQ_ACCESS_SOURCE=bc (sync.access_source)"
        )
    })?;
    let targets = crate::plan::resolve(cfg, None).await?;
    let mut out = Vec::new();
    for t in &targets {
        let Some((first, _)) = t.companies.first() else {
            continue;
        };
        let (d, problems) = bc_access::read(&t.client, first).await?;
        for p in problems {
            out.push(format!("! {p}"));
        }
        let user = d
            .users
            .iter()
            .find(|u| {
                u.user_name.eq_ignore_ascii_case(who)
                    || email_of(how, &d, &u.user_name).is_some_and(|e| e.eq_ignore_ascii_case(who))
            })
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{who} is no user of Business Central environment {} (looked up by user name, and by email as BCQ_BC_USER_EMAIL names users)",
                    t.environment
                )
            })?;
        let email = email_of(how, &d, &user.user_name);
        for (company_id, company_name) in &t.companies {
            if company.is_some_and(|c| {
                !c.eq_ignore_ascii_case(company_id) && !c.eq_ignore_ascii_case(company_name)
            }) {
                continue;
            }
            for spec in &cfg.sync.entities {
                if entity.is_some_and(|e| !e.eq_ignore_ascii_case(spec.entity_set)) {
                    continue;
                }
                let what = format!("{} of {company_name}", spec.entity_set);
                let Some(tables) = tables_of(spec.entity_set) else {
                    out.push(format!(
                        "? {what}: BC's permissions do not decide it (no tables known for a custom page); the [[access]] rules do"
                    ));
                    continue;
                };
                let readers = d.readers(company_name, tables);
                let users = d.reading_users(company_name, tables);
                let line = match users.get(&user.user_name) {
                    _ if !user.enabled => {
                        format!(
                            "✖ {what}: {} is disabled in Business Central",
                            user.user_name
                        )
                    }
                    Some(why) => {
                        let sets = sets_text(&why.sets);
                        let direct =
                            readers.contains_key(&BcPrincipal::User(user.user_name.clone()));
                        let group = why.through_group.as_deref().unwrap_or_default();
                        match (direct, &email) {
                            (true, None) => format!(
                                "✖ {what}: {} may read it in Business Central ({sets}) but has no email to name them by: they get no access",
                                user.user_name
                            ),
                            (true, Some(_)) => {
                                format!("✔ {what}: {} may read it through {sets}", user.user_name)
                            }
                            (false, _) if groups_allowed => format!(
                                "✔ {what}: {} may read it as a member of security group {group}, which holds {sets} (the identity provider resolves the membership)",
                                user.user_name
                            ),
                            (false, None) => format!(
                                "✖ {what}: {} may read it through security group {group} but has no email to name them by: they get no access",
                                user.user_name
                            ),
                            (false, Some(_)) => format!(
                                "✔ {what}: {} may read it as a member of security group {group}, which holds {sets}",
                                user.user_name
                            ),
                        }
                    }
                    None => {
                        let missing = d.missing_tables(&user.user_name, company_name, tables);
                        format!(
                            "✖ {what}: {} may not read it: no permission set of theirs or of their security groups grants direct read on table{} {}",
                            user.user_name,
                            if missing.len() == 1 { "" } else { "s" },
                            missing
                                .iter()
                                .map(u32::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                };
                out.push(line);
            }
        }
    }
    Ok(out)
}
