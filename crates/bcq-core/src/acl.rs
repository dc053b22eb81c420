//! Who may read what: access rules from configuration, resolved per
//! environment, company and entity into each document's access control.
//!
//! In a Q Business application every user can read a document that has no
//! `accessConfiguration`, so a connector that pushes invoices without one
//! shows the company's finances to every employee who has Q. Rules are
//! tried in order; the first whose environment, company and entity filters
//! all match decides. A rule may restrict (principals) or deliberately
//! publish (`public`); a unit no rule matches goes out without access
//! control, and `bcq check` and `bcq sync` say so loudly.

use crate::document::{AccessControl, Membership, Principal, PrincipalKind};

/// One access rule. Empty filters match everything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRule {
    /// Environment names (case-insensitive).
    pub environments: Vec<String>,
    /// Company names or ids (case-insensitive).
    pub companies: Vec<String>,
    /// Entity sets (`salesInvoices`); attachments and PDFs follow their record's entity.
    pub entities: Vec<String>,
    /// The access control to set, or `None` when the rule publishes the
    /// documents to every user on purpose.
    pub control: Option<AccessControl>,
}

/// What the rules say about one (environment, company, entity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolved<'a> {
    /// Documents carry this access control.
    Restricted(&'a AccessControl),
    /// A rule publishes them on purpose.
    Public,
    /// No rule matches: they go out readable by everyone, unintended.
    Unmatched,
}

impl<'a> Resolved<'a> {
    /// The access control to set on documents.
    pub fn control(self) -> Option<&'a AccessControl> {
        match self {
            Resolved::Restricted(c) => Some(c),
            Resolved::Public | Resolved::Unmatched => None,
        }
    }
}

/// The ordered access rules of a configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Rules, first match wins.
    pub rules: Vec<AccessRule>,
}

fn any_matches(filter: &[String], values: &[&str]) -> bool {
    filter.is_empty()
        || filter
            .iter()
            .any(|f| values.iter().any(|v| f.eq_ignore_ascii_case(v)))
}

impl AccessPolicy {
    /// The first rule that matches, and what it says.
    pub fn resolve(
        &self,
        environment: &str,
        company_id: &str,
        company_name: &str,
        entity: &str,
    ) -> Resolved<'_> {
        self.rules
            .iter()
            .find(|r| {
                any_matches(&r.environments, &[environment])
                    && any_matches(&r.companies, &[company_id, company_name])
                    && any_matches(&r.entities, &[entity])
            })
            .map_or(Resolved::Unmatched, |r| match &r.control {
                Some(c) => Resolved::Restricted(c),
                None => Resolved::Public,
            })
    }

    /// The groups the rules name, for checks against the configured groups.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .filter_map(|r| r.control.as_ref())
            .flat_map(|c| c.principals.iter())
            .filter(|p| p.kind == PrincipalKind::Group)
            .map(|p| p.id.as_str())
    }
}

/// A group whose membership bcq keeps in Q (PutGroup) from configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSpec {
    /// The group name, as principals name it.
    pub name: String,
    /// Member users (emails or ids).
    pub users: Vec<String>,
    /// Member groups (nested).
    pub groups: Vec<String>,
    /// INDEX (the application's own mapping) or DATASOURCE (this data source's).
    pub membership: Membership,
}

/// Builds the principals of a rule: allowed users and groups, then denied ones.
pub fn principals(
    allow_users: &[String],
    allow_groups: &[String],
    deny_users: &[String],
    deny_groups: &[String],
    membership: Membership,
) -> Vec<Principal> {
    let mut out = Vec::new();
    for (ids, kind, allow) in [
        (allow_users, PrincipalKind::User, true),
        (allow_groups, PrincipalKind::Group, true),
        (deny_users, PrincipalKind::User, false),
        (deny_groups, PrincipalKind::Group, false),
    ] {
        out.extend(ids.iter().map(|id| Principal {
            kind,
            id: id.clone(),
            allow,
            membership,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(env: &[&str], company: &[&str], entity: &[&str], user: Option<&str>) -> AccessRule {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        AccessRule {
            environments: s(env),
            companies: s(company),
            entities: s(entity),
            control: user.map(|u| AccessControl {
                member_relation_or: true,
                principals: principals(&[u.to_string()], &[], &[], &[], Membership::Index),
            }),
        }
    }

    #[test]
    fn first_matching_rule_decides() {
        let p = AccessPolicy {
            rules: vec![
                rule(
                    &["production"],
                    &["CRONUS USA, Inc."],
                    &["salesInvoices"],
                    Some("cfo@x.com"),
                ),
                rule(&[], &[], &["items"], None),
                rule(&["production"], &[], &[], Some("all@x.com")),
            ],
        };
        let inv = p.resolve("Production", "c1", "cronus usa, inc.", "salesInvoices");
        assert_eq!(inv.control().unwrap().principals[0].id, "cfo@x.com");
        // The company filter also matches by id.
        let p2 = AccessPolicy {
            rules: vec![rule(&[], &["C1"], &[], Some("a@x.com"))],
        };
        assert!(matches!(
            p2.resolve("e", "c1", "n", "x"),
            Resolved::Restricted(_)
        ));
        assert_eq!(p.resolve("sandbox", "c1", "n", "items"), Resolved::Public);
        assert_eq!(
            p.resolve("production", "c2", "Other", "customers")
                .control()
                .unwrap()
                .principals[0]
                .id,
            "all@x.com"
        );
        assert_eq!(
            p.resolve("sandbox", "c1", "n", "customers"),
            Resolved::Unmatched
        );
        assert_eq!(
            AccessPolicy::default().resolve("a", "b", "c", "d"),
            Resolved::Unmatched
        );
    }

    #[test]
    fn principals_keep_allow_and_deny() {
        let ps = principals(
            &["u@x.com".into()],
            &["Finance".into()],
            &["intern@x.com".into()],
            &["Contractors".into()],
            Membership::Datasource,
        );
        let view: Vec<_> = ps
            .iter()
            .map(|p| (p.kind, p.id.as_str(), p.allow))
            .collect();
        assert_eq!(
            view,
            vec![
                (PrincipalKind::User, "u@x.com", true),
                (PrincipalKind::Group, "Finance", true),
                (PrincipalKind::User, "intern@x.com", false),
                (PrincipalKind::Group, "Contractors", false),
            ]
        );
        assert!(ps.iter().all(|p| p.membership == Membership::Datasource));
    }
}
