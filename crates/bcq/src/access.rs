//! `[[access]]` rules and `[groups.<name>]` tables of the config file.
//!
//! ```toml
//! [[access]]                        # first matching rule wins
//! environments = ["production"]     # optional, default all
//! companies = ["CRONUS USA, Inc."]  # names or ids, optional
//! entities = ["salesInvoices", "purchaseInvoices"]   # optional
//! allow_groups = ["Finance"]
//! allow_users = ["cfo@contoso.com"]
//! deny_users = ["intern@contoso.com"]
//! membership = "INDEX"              # or DATASOURCE
//! member_relation = "OR"            # or AND: every allowed principal must match
//!
//! [[access]]
//! entities = ["items"]
//! public = true                     # every Q user may read these, on purpose
//!
//! [groups.Finance]                  # kept in Q with PutGroup at each sync
//! users = ["cfo@contoso.com", "ap@contoso.com"]
//! groups = ["Controllers"]
//! ```

use bcq_core::acl::{AccessPolicy, AccessRule, GroupSpec, principals};
use bcq_core::document::{AccessControl, Membership};

const RULE_KEYS: &[&str] = &[
    "environments",
    "companies",
    "entities",
    "allow_users",
    "allow_groups",
    "deny_users",
    "deny_groups",
    "membership",
    "member_relation",
    "public",
];

fn strings(t: &toml::Table, key: &str, at: &str, problems: &mut Vec<String>) -> Vec<String> {
    match t.get(key) {
        None => Vec::new(),
        Some(toml::Value::String(s)) => vec![s.clone()],
        Some(toml::Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i.as_str() {
                Some(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => {
                    problems.push(format!(
                        "{at}.{key}: every entry must be a non-empty string"
                    ));
                    None
                }
            })
            .collect(),
        Some(other) => {
            problems.push(format!("{at}.{key} must be a list of strings, not {other}"));
            Vec::new()
        }
    }
}

fn membership(t: &toml::Table, at: &str, problems: &mut Vec<String>) -> Membership {
    match t.get("membership").map(|v| v.as_str()) {
        None => Membership::Index,
        Some(Some(m)) if m.eq_ignore_ascii_case("INDEX") => Membership::Index,
        Some(Some(m)) if m.eq_ignore_ascii_case("DATASOURCE") => Membership::Datasource,
        Some(_) => {
            problems.push(format!(
                "{at}.membership must be \"INDEX\" or \"DATASOURCE\""
            ));
            Membership::Index
        }
    }
}

/// Parses the `[[access]]` rules; `known_entities` are the entity sets a
/// rule may name (catalog and custom pages).
pub fn parse_rules(
    tables: &[toml::Table],
    known_entities: &[&str],
    deny_only_allowed: bool,
    problems: &mut Vec<String>,
) -> AccessPolicy {
    let mut rules = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        let at = format!("access[{}]", i + 1);
        for k in t.keys() {
            if !RULE_KEYS.contains(&k.as_str()) {
                problems.push(format!(
                    "{at}: unknown key '{k}' (known: {})",
                    RULE_KEYS.join(", ")
                ));
            }
        }
        let entities = strings(t, "entities", &at, problems);
        for e in &entities {
            if !known_entities.contains(&e.as_str()) {
                problems.push(format!(
                    "{at}.entities: '{e}' is not an entity bcq knows (see bcq entities)"
                ));
            }
        }
        let m = membership(t, &at, problems);
        let ps = principals(
            &strings(t, "allow_users", &at, problems),
            &strings(t, "allow_groups", &at, problems),
            &strings(t, "deny_users", &at, problems),
            &strings(t, "deny_groups", &at, problems),
            m,
        );
        let public = match t.get("public") {
            None => false,
            Some(toml::Value::Boolean(b)) => *b,
            Some(_) => {
                problems.push(format!("{at}.public must be true or false"));
                false
            }
        };
        let or = match t.get("member_relation").map(|v| v.as_str()) {
            None => true,
            Some(Some(r)) if r.eq_ignore_ascii_case("OR") => true,
            Some(Some(r)) if r.eq_ignore_ascii_case("AND") => false,
            Some(_) => {
                problems.push(format!("{at}.member_relation must be \"OR\" or \"AND\""));
                true
            }
        };
        let control = match (public, ps.is_empty()) {
            (true, true) => None,
            (true, false) => {
                problems.push(format!(
                    "{at}: public = true and principals contradict each other; remove one"
                ));
                None
            }
            (false, true) => {
                problems.push(format!(
                    "{at}: names no principal; add allow_users / allow_groups (or public = true to publish on purpose)"
                ));
                None
            }
            (false, false) => {
                // With access from BC, a rule of DENYs adds them to BC's
                // lists; alone it would leave everyone else reading.
                if !deny_only_allowed && !ps.iter().any(|p| p.allow) {
                    problems.push(format!(
                        "{at}: only deny principals: everyone else could read the documents; add allow_users or allow_groups"
                    ));
                }
                Some(AccessControl {
                    member_relation_or: or,
                    principals: ps,
                })
            }
        };
        let environments = strings(t, "environments", &at, problems);
        let companies = strings(t, "companies", &at, problems);
        rules.push(AccessRule {
            environments,
            companies,
            entities,
            control,
        });
    }
    AccessPolicy { rules }
}

/// Parses the `[groups.<name>]` tables.
pub fn parse_groups(
    tables: &[(String, toml::Table)],
    problems: &mut Vec<String>,
) -> Vec<GroupSpec> {
    let mut out = Vec::new();
    for (name, t) in tables {
        let at = format!("groups.{name}");
        for k in t.keys() {
            if !["users", "groups", "membership"].contains(&k.as_str()) {
                problems.push(format!(
                    "{at}: unknown key '{k}' (known: users, groups, membership)"
                ));
            }
        }
        let g = GroupSpec {
            name: name.clone(),
            users: strings(t, "users", &at, problems),
            groups: strings(t, "groups", &at, problems),
            membership: membership(t, &at, problems),
        };
        if g.users.is_empty() && g.groups.is_empty() {
            problems.push(format!(
                "{at}: has no users and no groups; an empty group would lock its members out"
            ));
        }
        if g.groups.iter().any(|m| m == name) {
            problems.push(format!("{at}: a group cannot contain itself"));
        }
        out.push(g);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcq_core::acl::Resolved;

    fn tables(src: &str) -> (Vec<toml::Table>, Vec<(String, toml::Table)>) {
        let t: toml::Table = src.parse().unwrap();
        let access = t
            .get("access")
            .and_then(|a| a.as_array())
            .map(|a| a.iter().map(|x| x.as_table().unwrap().clone()).collect())
            .unwrap_or_default();
        let groups = t
            .get("groups")
            .and_then(|g| g.as_table())
            .map(|g| {
                g.iter()
                    .map(|(k, v)| (k.clone(), v.as_table().unwrap().clone()))
                    .collect()
            })
            .unwrap_or_default();
        (access, groups)
    }

    #[test]
    fn rules_and_groups_parse() {
        let (a, g) = tables(
            r#"
[[access]]
companies = ["CRONUS USA, Inc."]
entities = ["salesInvoices"]
allow_groups = ["Finance"]
deny_users = ["intern@x.com"]
membership = "DATASOURCE"

[[access]]
entities = ["items"]
public = true

[groups.Finance]
users = ["cfo@x.com"]
groups = ["Controllers"]
"#,
        );
        let mut problems = Vec::new();
        let p = parse_rules(&a, &["salesInvoices", "items"], false, &mut problems);
        let groups = parse_groups(&g, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let Resolved::Restricted(c) =
            p.resolve("production", "id", "CRONUS USA, Inc.", "salesInvoices")
        else {
            panic!("invoices must be restricted")
        };
        assert_eq!(c.principals.len(), 2);
        assert!(
            c.principals
                .iter()
                .all(|p| p.membership == Membership::Datasource)
        );
        assert_eq!(
            p.resolve("production", "id", "x", "items"),
            Resolved::Public
        );
        assert_eq!(
            p.resolve("production", "id", "x", "customers"),
            Resolved::Unmatched
        );
        assert_eq!(groups[0].users, vec!["cfo@x.com"]);
        assert_eq!(groups[0].groups, vec!["Controllers"]);
    }

    #[test]
    fn mistakes_are_named() {
        let (a, g) = tables(
            r#"
[[access]]
entities = ["salesInvoicez"]
allow_users = ["a@x.com"]
colour = "red"

[[access]]
entities = ["items"]

[[access]]
deny_users = ["b@x.com"]

[[access]]
public = true
allow_users = ["c@x.com"]
membership = "EVERYONE"
companies = [1]

[groups.Empty]
"#,
        );
        let mut problems = Vec::new();
        parse_rules(&a, &["salesInvoices", "items"], false, &mut problems);
        parse_groups(&g, &mut problems);
        let all = problems.join("\n");
        for want in [
            "access[1].entities: 'salesInvoicez'",
            "access[1]: unknown key 'colour'",
            "access[2]: names no principal",
            "access[3]: only deny principals",
            "access[4]: public = true and principals contradict",
            "access[4].membership must be",
            "access[4].companies: every entry must be a non-empty string",
            "groups.Empty: has no users and no groups",
        ] {
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
    }
}
