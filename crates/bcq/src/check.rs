//! `bcq check`: a ✔/✖ checklist of everything a sync depends on, each ✖
//! with the reason and what to fix.

use crate::config::Config;
use crate::plan;
use bcq_bc::Query;
use bcq_q::{QOptions, QSink};
use bcq_state::StateStore;
use std::fmt::Write;

/// One line of the checklist.
#[derive(Clone, Debug)]
pub struct Item {
    /// Passed (a warning passes).
    pub ok: bool,
    /// Passed, but something needs a person's attention.
    pub warning: bool,
    /// What was checked.
    pub what: String,
    /// Why it failed, or a detail.
    pub detail: String,
}

fn item(ok: bool, what: impl Into<String>, detail: impl Into<String>) -> Item {
    Item {
        ok,
        warning: false,
        what: what.into(),
        detail: detail.into(),
    }
}

fn warning(what: impl Into<String>, detail: impl Into<String>) -> Item {
    Item {
        warning: true,
        ..item(true, what, detail)
    }
}

/// Runs every check; never stops at the first failure.
pub async fn run(cfg: &Config) -> Vec<Item> {
    let mut items = vec![item(true, "configuration", "valid")];
    let mut uncovered = Vec::new();
    let mut covered = 0;
    match plan::resolve(cfg, None).await {
        Err(e) => items.push(item(false, "business central access", format!("{e:#}"))),
        Ok(targets) => {
            items.push(item(
                true,
                "business central token",
                format!("tenant {}", cfg.bc.tenant),
            ));
            // The units a sync would run (no state: nothing is due or known).
            let units = StateStore::open_in_memory()
                .map_err(anyhow::Error::from)
                .and_then(|store| plan::units(cfg, &targets, &store, false));
            match units {
                Err(e) => items.push(item(false, "planning the units", format!("{e:#}"))),
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
                            Ok(_) => items.push(item(true, what, "permitted")),
                            Err(e) => items.push(item(false, what, e.to_string())),
                        }
                    }
                }
            }
        }
    }
    let Some(qs) = &cfg.q else {
        items.push(item(
            false,
            "amazon q business",
            "Q_APPLICATION_ID, Q_INDEX_ID and Q_DATASOURCE_ID are not set",
        ));
        return items;
    };
    let client = match crate::sync::q_client(cfg).await {
        Ok(c) => c,
        Err(e) => {
            items.push(item(false, "aws configuration", e.to_string()));
            return items;
        }
    };
    let t = &qs.target;
    let status = |s: Option<String>| s.unwrap_or_else(|| "unknown".into());
    match client
        .get_application()
        .application_id(&t.application_id)
        .send()
        .await
    {
        Ok(a) => {
            let st = status(a.status().map(|s| s.as_str().to_string()));
            items.push(item(
                st == "ACTIVE",
                format!("q application {}", t.application_id),
                st,
            ));
        }
        Err(e) => items.push(item(
            false,
            format!("q application {}", t.application_id),
            bcq_q::retry::describe(&e),
        )),
    }
    match client
        .get_index()
        .application_id(&t.application_id)
        .index_id(&t.index_id)
        .send()
        .await
    {
        Ok(i) => {
            let st = status(i.status().map(|s| s.as_str().to_string()));
            items.push(item(st == "ACTIVE", format!("q index {}", t.index_id), st));
        }
        Err(e) => items.push(item(
            false,
            format!("q index {}", t.index_id),
            bcq_q::retry::describe(&e),
        )),
    }
    match client
        .get_data_source()
        .application_id(&t.application_id)
        .index_id(&t.index_id)
        .data_source_id(&t.data_source_id)
        .send()
        .await
    {
        Ok(d) => {
            let st = status(d.status().map(|s| s.as_str().to_string()));
            items.push(item(
                st == "ACTIVE",
                format!("q data source {}", t.data_source_id),
                st,
            ));
        }
        Err(e) => items.push(item(
            false,
            format!("q data source {}", t.data_source_id),
            bcq_q::retry::describe(&e),
        )),
    }
    let sink = QSink::new(client, t.clone(), QOptions::default());
    match sink
        .check_schema(&crate::sync::wanted_attributes(cfg))
        .await
    {
        Ok(c) if c.complete() => items.push(item(
            true,
            "custom attributes on the index",
            format!("{} declared", c.declared.len()),
        )),
        Ok(c) => {
            let mut why = String::new();
            if !c.missing.is_empty() {
                let _ = write!(why, "not declared: {}", c.missing.join(", "));
            }
            for (n, have, want) in &c.wrong_type {
                let _ = write!(why, "; {n} is {have}, bcq sends {want}");
            }
            why.push_str("; run bcq index-schema --apply");
            items.push(item(false, "custom attributes on the index", why));
        }
        Err(e) => items.push(item(false, "custom attributes on the index", e.to_string())),
    }
    if uncovered.is_empty() && covered > 0 {
        items.push(item(
            true,
            "access control",
            format!("[[access]] rules cover all {covered} enabled (company, entity) pairs"),
        ));
    } else if !uncovered.is_empty() {
        items.push(warning(
            "access control",
            format!(
                "WARNING: no [[access]] rule covers {}: their documents go out without access control and every user of the Q application can read them. add [[access]] rules (or public = true to publish on purpose){}",
                uncovered.join(", "),
                if cfg.sync.require_access {
                    "; sync.require_access is set, so bcq sync will refuse to run"
                } else {
                    ""
                }
            ),
        ));
    }
    if !cfg.sync.groups.is_empty() {
        let defined: Vec<&str> = cfg.sync.groups.iter().map(|g| g.name.as_str()).collect();
        let unknown: Vec<&str> = cfg
            .sync
            .access
            .group_names()
            .filter(|g| !defined.contains(g))
            .collect();
        if !unknown.is_empty() {
            items.push(warning(
                "groups",
                format!(
                    "rules name groups not defined in [groups]: {} (fine if Q already knows them)",
                    unknown.join(", ")
                ),
            ));
        }
    }
    items
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
