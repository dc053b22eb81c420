//! `bcq check`: a ✔/✖ checklist of everything a sync depends on, each ✖
//! with the reason and what to fix; and `bcq entities`.

use crate::config::Config;
use crate::plan;
use bcq_bc::Query;
use bcq_core::destination::Check;
use bcq_state::StateStore;
use std::fmt::Write;

/// One line of the checklist.
pub type Item = Check;

/// Runs every check; never stops at the first failure.
pub async fn run(cfg: &Config) -> Vec<Item> {
    let mut items = vec![Check::pass("configuration", "valid")];
    let mut uncovered = Vec::new();
    let mut covered = 0;
    let mut planned = None;
    let derived_cfg;
    let mut cfg = cfg;
    match plan::resolve(cfg, None).await {
        Err(e) => items.push(Check::fail("business central access", format!("{e:#}"))),
        Ok(targets) => {
            items.push(Check::pass(
                "business central token",
                format!("tenant {}", cfg.bc.tenant),
            ));
            if let Some(how) = &cfg.sync.bc_access {
                match crate::bc_access::derive(cfg, how, &targets, true).await {
                    Err(e) => items.push(Check::fail(
                        "access from Business Central",
                        format!("{e:#}"),
                    )),
                    Ok(derived) => {
                        items.push(Check::pass(
                            "access from Business Central",
                            format!(
                                "permissions read with {} requests: access lists for {} (company, entity) pairs",
                                derived.requests,
                                derived.rules.len()
                            ),
                        ));
                        for (what, who) in &derived.who {
                            items.push(Check::pass(format!("who may read {what}"), who.clone()));
                        }
                        for p in &derived.problems {
                            items.push(Check::fail("access from Business Central", p.clone()));
                        }
                        derived_cfg = crate::bc_access::with_rules(cfg, derived.rules);
                        cfg = &derived_cfg;
                    }
                }
            }
            // The units a sync would run (no state: nothing is due or known).
            let units = StateStore::open_in_memory()
                .map_err(anyhow::Error::from)
                .and_then(|store| plan::units(cfg, &targets, &store, false));
            match units {
                Err(e) => items.push(Check::fail("planning the units", format!("{e:#}"))),
                Ok(units) => {
                    uncovered = crate::sync::uncovered_units(cfg, &units);
                    covered = units
                        .iter()
                        .filter(|u| !bcq_core::files::is_attachments(u.spec))
                        .count()
                        - uncovered.len();
                    for u in &units {
                        let q = Query {
                            top: Some(1),
                            ..Query::default()
                        };
                        let url = bcq_bc::collection_url(
                            &u.api_root,
                            &u.key.company_id,
                            u.spec.entity_set,
                            &q,
                        );
                        let what = format!(
                            "read {} of {} ({})",
                            u.spec.entity_set, u.ctx.company_name, u.ctx.environment
                        );
                        match u.client.get_json(&url).await {
                            Ok(_) => items.push(Check::pass(what, "permitted")),
                            Err(e) => items.push(Check::fail(what, e.to_string())),
                        }
                    }
                    planned = Some(units);
                }
            }
        }
    }
    match &cfg.destination {
        None => items.push(Check::fail(
            "destination",
            "none is configured: set the destination's settings (Q_APPLICATION_ID, Q_INDEX_ID and Q_DATASOURCE_ID for Amazon Q Business; BCQ_DESTINATION=bedrock-kb with BEDROCK_KNOWLEDGE_BASE_ID and BEDROCK_DATA_SOURCE_ID for Amazon Bedrock)",
        )),
        Some(prepared) => match prepared.open(&cfg.common).await {
            Err(e) => items.push(Check::fail("aws configuration", e)),
            Ok(dest) => {
                items.extend(dest.check(&crate::sync::wanted_attributes(cfg)).await);
                for note in dest.access_notes() {
                    items.push(Check::warn("access control", note));
                }
                if let Some(units) = &planned {
                    let conflicts =
                        crate::sync::access_conflicts(cfg, units, dest.access_model());
                    if !conflicts.is_empty() {
                        items.push(Check::fail(
                            "access control",
                            format!(
                                "{} cannot honour the access rules of {}",
                                dest.name(),
                                conflicts.join("; ")
                            ),
                        ));
                    }
                }
            }
        },
    }
    if uncovered.is_empty() && covered > 0 {
        items.push(Check::pass(
            "access control",
            format!("[[access]] rules cover all {covered} enabled (company, entity) pairs"),
        ));
    } else if !uncovered.is_empty() {
        items.push(Check::warn(
            "access control",
            format!(
                "WARNING: no [[access]] rule covers {}: their documents go out without access control and every user of the index can read them. add [[access]] rules (or public = true to publish on purpose){}",
                uncovered.join(", "),
                if cfg.sync.require_access {
                    "; sync.require_access is set, so bcq sync will refuse to run"
                } else {
                    ""
                }
            ),
        ));
    }
    // A failure that a step of the setup guide fixes names that step.
    for item in items.iter_mut().filter(|i| !i.ok) {
        if let Some(step) = missing_step(&item.detail) {
            item.detail = format!("{} → setup step missing: {step}", item.detail);
        }
    }
    if !cfg.common.groups.is_empty() {
        let defined: Vec<&str> = cfg.common.groups.iter().map(|g| g.name.as_str()).collect();
        let unknown: Vec<&str> = cfg
            .sync
            .access
            .group_names()
            .filter(|g| !defined.contains(g))
            .collect();
        if !unknown.is_empty() {
            items.push(Check::warn(
                "groups",
                format!(
                    "rules name groups not defined in [groups]: {} (fine if the destination already knows them)",
                    unknown.join(", ")
                ),
            ));
        }
    }
    items
}

/// The step of README's setup guide ("Before the first sync") that a
/// failure's message shows missing, if it shows one.
pub fn missing_step(detail: &str) -> Option<&'static str> {
    const STEP_1: &str = "README 'Before the first sync', step 1: the Entra app registration (its client id, a valid secret or certificate, the Business Central API permission with admin consent)";
    const ENTRA_CODES: [&str; 7] = [
        "AADSTS7000215",
        "AADSTS7000222",
        "AADSTS700016",
        "AADSTS7000112",
        "AADSTS700027",
        "AADSTS700023",
        "AADSTS500011",
    ];
    if ENTRA_CODES.iter().any(|c| detail.contains(c)) {
        return Some(STEP_1);
    }
    if detail.contains("rejected the access token") {
        return Some(
            "README 'Before the first sync', steps 1 and 2: the API permission with admin consent, and the app on BC's 'Microsoft Entra Applications' page, enabled, with permission sets",
        );
    }
    if detail.contains("business central returned 403") {
        return Some(
            "README 'Before the first sync', step 2: a permission set that reads this (D365 READ) for the app on BC's 'Microsoft Entra Applications' page",
        );
    }
    if detail.contains("AccessDenied") || detail.contains("bcq iam-policy prints") {
        return Some(
            "README 'Before the first sync', step 3.1: the IAM policy `bcq iam-policy` prints, attached to the identity bcq runs as",
        );
    }
    if detail.contains("bcq index-schema --apply") {
        return Some(
            "README 'Before the first sync', step 3.3: `bcq index-schema --apply`, once per index",
        );
    }
    None
}

/// The checklist as text.
pub fn render(items: &[Item]) -> String {
    let mut s = String::new();
    for i in items {
        let _ = writeln!(
            s,
            "{} {}: {}",
            match (i.ok, i.warning) {
                (false, _) => "✖",
                (true, true) => "⚠",
                (true, false) => "✔",
            },
            i.what,
            i.detail
        );
    }
    s
}

/// `bcq entities`: the catalog, with what `enabled` lists marked.
pub fn entities(enabled: &[&str]) -> String {
    let mut s = format!(
        "{:<8} {:<28} {:<28} {:>6}  lines / pdf\n",
        "enabled", "entity set", "category", "page"
    );
    for e in bcq_core::catalog::CATALOG {
        let page = match e.page {
            bcq_core::catalog::PageRule::Fixed(p) => p.to_string(),
            bcq_core::catalog::PageRule::ByStatus {
                draft_page,
                posted_page,
                ..
            } => format!("{draft_page}/{posted_page}"),
        };
        let _ = writeln!(
            s,
            "{:<8} {:<28} {:<28} {:>6}  {}{}",
            if enabled.contains(&e.entity_set) {
                "✔"
            } else {
                ""
            },
            e.entity_set,
            e.category,
            page,
            e.lines.map(|l| l.nav).unwrap_or("-"),
            if e.pdf { " · pdf" } else { "" }
        );
    }
    s.push_str("\nenable with BCQ_ENTITIES (or sync.entities): a comma-separated list, or 'all'\n");
    s
}

#[cfg(test)]
mod tests {
    use super::missing_step;

    #[test]
    fn failures_name_the_setup_step_that_fixes_them() {
        let step = |d: &str| missing_step(d).map(|s| s.split(':').next().unwrap().to_string());
        assert_eq!(
            step("authentication failed: the client secret was rejected (AADSTS7000215); check DYNAMICS_SECRET").as_deref(),
            Some("README 'Before the first sync', step 1")
        );
        assert_eq!(
            step("business central rejected the access token for https://x (401 after re-authenticating); ...").as_deref(),
            Some("README 'Before the first sync', steps 1 and 2")
        );
        assert_eq!(
            step("business central returned 403 Authorization_InsufficientPermissions for https://x: no").as_deref(),
            Some("README 'Before the first sync', step 2")
        );
        assert_eq!(
            step("GetIndex failed: AccessDeniedException: no; the AWS credentials lack qbusiness permissions for this data source (bcq iam-policy prints what they need)").as_deref(),
            Some("README 'Before the first sync', step 3.1")
        );
        assert_eq!(
            step("not declared: bc_x; documents would fail to index: run `bcq index-schema --apply` once to declare them").as_deref(),
            Some("README 'Before the first sync', step 3.3")
        );
        assert_eq!(
            step(
                "business central environment 'x' does not exist for this tenant; check BC_ENVIRONMENT"
            ),
            None
        );
    }
}
