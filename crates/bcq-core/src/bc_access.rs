//! Who may read a unit, derived from Business Central's own permissions
//! (the groundwork of `access.source = "bc"`): the data BC's automation API
//! returns for an environment ([`Directory`]), the tables behind each
//! catalog entity ([`tables_of`]), and the computation of who reads them
//! ([`Directory::readers`]), with the reason for each.
//!
//! The rule, as BC's own effective-permission code applies it
//! (`EffectivePermissionsMgt`, see `docs/bc-permissions.md`): a principal's
//! permission sets are its assignments for the company or for every
//! company (blank company); a set grants a table when its expanded
//! permissions carry table data with that table's id or 0 (every table).
//! A principal reads an entity when its sets grant **direct** read on every
//! table behind the entity: the document tables (drafts and posted) and
//! their lines. Indirect read does not count: it lets BC's own code read
//! the table on the user's behalf, not the user open its records. Disabled
//! users read nothing. A security group reads through its pseudo-user's
//! assignments, and its members through it.

use std::collections::BTreeMap;

/// The tables a principal must read to read the documents of
/// `entity_set`: its document tables (unposted and posted) and their lines
/// (`docs/bc-permissions.md`, section 4); `None` for an entity set the
/// catalog does not know (a custom API page names its own).
pub fn tables_of(entity_set: &str) -> Option<&'static [u32]> {
    Some(match entity_set {
        "salesInvoices" => &[36, 37, 112, 113],
        "salesOrders" | "salesQuotes" => &[36, 37],
        "salesCreditMemos" => &[36, 37, 114, 115],
        "purchaseInvoices" => &[38, 39, 122, 123],
        "purchaseOrders" => &[38, 39],
        "purchaseCreditMemos" => &[38, 39, 124, 125],
        "salesShipments" => &[110, 111],
        "purchaseReceipts" => &[120, 121],
        "customers" => &[18],
        "vendors" => &[23],
        "items" => &[27],
        "contacts" => &[5050],
        "employees" => &[5200],
        "projects" => &[167],
        "generalLedgerEntries" => &[17],
        "itemLedgerEntries" => &[32],
        "companyInformation" => &[79],
        "bankAccounts" => &[270],
        "documentAttachments" => &[1173],
        _ => return None,
    })
}

/// A read permission of an expanded permission set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// `Yes`.
    Direct,
    /// `Indirect`: through BC's code only.
    Indirect,
    /// Blank (`_x0020_`).
    None,
}

impl Read {
    /// Parses the API's value (`Yes`, `Indirect`, blank as `_x0020_` or
    /// ` ` or empty); anything else is an error naming it.
    pub fn parse(v: &str) -> Result<Read, String> {
        match v {
            "Yes" => Ok(Read::Direct),
            "Indirect" => Ok(Read::Indirect),
            "_x0020_" | " " | "" => Ok(Read::None),
            other => Err(format!("unknown read permission {other:?}")),
        }
    }
}

/// A BC user (`users`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BcUser {
    /// `userSecurityId`.
    pub security_id: String,
    /// `userName`.
    pub user_name: String,
    /// `displayName`.
    pub display_name: String,
    /// `state` is `Enabled`.
    pub enabled: bool,
    /// `contactEmail` (may be empty).
    pub contact_email: String,
}

/// A BC security group (`securityGroups` and its members).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BcGroup {
    /// `code`.
    pub code: String,
    /// `groupName`: the Entra group's display name.
    pub name: String,
    /// `groupId`: the Entra group's object id.
    pub group_id: String,
    /// `groupUserSecurityId`: the pseudo-user holding the group's sets.
    pub group_user_sid: String,
    /// Members' `userSecurityId`s (`securityGroupMembers`).
    pub members: Vec<String>,
}

/// A permission set's identity: BC joins assignments and expanded
/// permissions on all three.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SetId {
    /// `roleId`.
    pub role_id: String,
    /// `scope` (`System` or `Tenant`).
    pub scope: String,
    /// `appId`.
    pub app_id: String,
}

/// An assignment (`accessControls`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The user's or group pseudo-user's security id.
    pub security_id: String,
    /// The set.
    pub set: SetId,
    /// The company's name; empty for every company.
    pub company: String,
}

/// One table-data row of an expanded permission set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TablePermission {
    /// The set.
    pub set: SetId,
    /// The table's id; 0 for every table.
    pub object_id: u32,
    /// Its read permission.
    pub read: Read,
}

/// What BC says about one environment's permissions.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    /// Users.
    pub users: Vec<BcUser>,
    /// Security groups, with members.
    pub groups: Vec<BcGroup>,
    /// Assignments of users and of group pseudo-users.
    pub assignments: Vec<Assignment>,
    /// Table-data permissions of every set.
    pub expanded: Vec<TablePermission>,
}

/// Who reads.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Principal {
    /// A BC user, by `userName`.
    User(String),
    /// A BC security group, by `code`.
    Group(String),
}

/// Why a principal reads: every set (with its company scope) that grants
/// direct read on at least one of the tables, and the group it reads
/// through, if any.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Why {
    /// The permission sets granting read, with their company (`""` every
    /// company).
    pub sets: Vec<(String, String)>,
    /// The security group (code) the access comes through, for a user who
    /// reads as a member.
    pub through_group: Option<String>,
}

impl Directory {
    /// Whether the sets assigned to `sid` for `company` grant direct read
    /// on every table of `tables`; the granting sets if so.
    fn grants(&self, sid: &str, company: &str, tables: &[u32]) -> Option<Vec<(String, String)>> {
        let held: Vec<&Assignment> = self
            .assignments
            .iter()
            .filter(|a| a.security_id.eq_ignore_ascii_case(sid))
            .filter(|a| a.company.is_empty() || a.company == company)
            .collect();
        let mut why = Vec::new();
        for table in tables {
            let granting: Vec<&Assignment> = held
                .iter()
                .copied()
                .filter(|a| {
                    self.expanded.iter().any(|p| {
                        p.set == a.set
                            && (p.object_id == 0 || p.object_id == *table)
                            && p.read == Read::Direct
                    })
                })
                .collect();
            if granting.is_empty() {
                return None;
            }
            for a in granting {
                let entry = (a.set.role_id.clone(), a.company.clone());
                if !why.contains(&entry) {
                    why.push(entry);
                }
            }
        }
        why.sort();
        Some(why)
    }

    /// Who may read the entity whose tables are `tables` in the company
    /// named `company`: enabled users through their own sets, and security
    /// groups through theirs (see the module doc), each with why.
    pub fn readers(&self, company: &str, tables: &[u32]) -> BTreeMap<Principal, Why> {
        let mut out = BTreeMap::new();
        for u in self.users.iter().filter(|u| u.enabled) {
            if let Some(sets) = self.grants(&u.security_id, company, tables) {
                out.insert(
                    Principal::User(u.user_name.clone()),
                    Why {
                        sets,
                        through_group: None,
                    },
                );
            }
        }
        for g in &self.groups {
            if let Some(sets) = self.grants(&g.group_user_sid, company, tables) {
                out.insert(
                    Principal::Group(g.code.clone()),
                    Why {
                        sets,
                        through_group: None,
                    },
                );
            }
        }
        out
    }

    /// The tables of `tables` that neither the user `user_name`'s own sets
    /// nor those of their security groups let them read directly in
    /// `company` (empty when they may read them all).
    pub fn missing_tables(&self, user_name: &str, company: &str, tables: &[u32]) -> Vec<u32> {
        let Some(user) = self.users.iter().find(|u| u.user_name == user_name) else {
            return tables.to_vec();
        };
        let mut sids = vec![user.security_id.as_str()];
        for g in &self.groups {
            if g.members
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&user.security_id))
            {
                sids.push(&g.group_user_sid);
            }
        }
        tables
            .iter()
            .copied()
            .filter(|t| {
                !sids
                    .iter()
                    .any(|sid| self.grants(sid, company, &[*t]).is_some())
            })
            .collect()
    }

    /// The enabled users who may read, directly or as members of a group
    /// that may (for destinations whose access lists name users only);
    /// a user who reads both ways is listed with their own sets.
    pub fn reading_users(&self, company: &str, tables: &[u32]) -> BTreeMap<String, Why> {
        let readers = self.readers(company, tables);
        let mut out = BTreeMap::new();
        for (principal, why) in &readers {
            match principal {
                Principal::User(name) => {
                    out.insert(name.clone(), why.clone());
                }
                Principal::Group(code) => {
                    let Some(g) = self.groups.iter().find(|g| &g.code == code) else {
                        continue;
                    };
                    for member in &g.members {
                        let Some(u) = self
                            .users
                            .iter()
                            .find(|u| u.enabled && u.security_id.eq_ignore_ascii_case(member))
                        else {
                            continue;
                        };
                        out.entry(u.user_name.clone()).or_insert_with(|| Why {
                            sets: why.sets.clone(),
                            through_group: Some(code.clone()),
                        });
                    }
                }
            }
        }
        out
    }
}

/// The automation API's collections this module reads, in order.
pub const READ_SETS: [&str; 5] = [
    "users",
    "securityGroups",
    "securityGroupMembers",
    "accessControls",
    "expandedPermissionSets",
];

/// Reads an environment's permissions through BC's automation API
/// (`api/microsoft/automation/v2.0/companies({company_id})/...`; the data
/// is the environment's, whichever company is named): one collection read
/// per entry of [`READ_SETS`] (one request each unless BC pages), the
/// expanded sets filtered to table data.
///
/// A row that does not have the shape the pages define is left out and
/// named in the returned problems: leaving out a user, group, membership,
/// assignment or permission can only narrow who reads, never widen it, and
/// the caller reports it rather than dropping it silently.
pub async fn read(
    client: &bcq_bc::BcClient,
    company_id: &str,
) -> Result<(Directory, Vec<String>), bcq_bc::BcError> {
    use futures::TryStreamExt;
    let root = format!(
        "{}/companies({company_id})",
        client.custom_api_root("microsoft", "automation", "v2.0")
    );
    let mut rows: Vec<Vec<serde_json::Value>> = Vec::with_capacity(READ_SETS.len());
    for set in READ_SETS {
        let url = match set {
            "expandedPermissionSets" => format!(
                "{root}/{set}?$filter={}",
                percent_encoding::utf8_percent_encode(
                    "objectType eq 'Table_x0020_Data'",
                    percent_encoding::NON_ALPHANUMERIC
                )
            ),
            _ => format!("{root}/{set}"),
        };
        let pages: Vec<bcq_bc::Page> = client.pages(url).try_collect().await?;
        rows.push(pages.into_iter().flat_map(|p| p.values).collect());
    }
    let mut problems = Vec::new();
    let mut d = Directory::default();
    let text = |r: &serde_json::Value, k: &str| r[k].as_str().map(str::to_owned);
    let mut bad = |set: &str, r: &serde_json::Value, what: &str| {
        problems.push(format!(
            "{set}: a row without {what} was left out (it can only narrow access): {}",
            crate::wire::truncate_chars(r.to_string(), 200)
        ));
    };
    for r in &rows[0] {
        match (
            text(r, "userSecurityId"),
            text(r, "userName"),
            text(r, "state"),
        ) {
            (Some(sid), Some(name), Some(state)) => d.users.push(BcUser {
                security_id: sid,
                user_name: name,
                display_name: text(r, "displayName").unwrap_or_default(),
                enabled: state == "Enabled",
                contact_email: text(r, "contactEmail").unwrap_or_default(),
            }),
            _ => bad("users", r, "userSecurityId, userName and state"),
        }
    }
    for r in &rows[1] {
        match (
            text(r, "code"),
            text(r, "groupId"),
            text(r, "groupUserSecurityId"),
        ) {
            (Some(code), Some(group_id), Some(sid)) => d.groups.push(BcGroup {
                code,
                name: text(r, "groupName").unwrap_or_default(),
                group_id,
                group_user_sid: sid,
                members: Vec::new(),
            }),
            _ => bad("securityGroups", r, "code, groupId and groupUserSecurityId"),
        }
    }
    for r in &rows[2] {
        let found = text(r, "securityGroupCode")
            .zip(text(r, "userSecurityId"))
            .and_then(|(code, sid)| {
                d.groups
                    .iter_mut()
                    .find(|g| g.code == code)
                    .map(|g| g.members.push(sid))
            });
        if found.is_none() {
            bad(
                "securityGroupMembers",
                r,
                "a known securityGroupCode and a userSecurityId",
            );
        }
    }
    let set_of = |r: &serde_json::Value| -> Option<SetId> {
        Some(SetId {
            role_id: text(r, "roleId")?,
            scope: text(r, "scope")?,
            app_id: text(r, "appId")?.to_ascii_lowercase(),
        })
    };
    for r in &rows[3] {
        match (text(r, "userSecurityId"), set_of(r), text(r, "company")) {
            (Some(sid), Some(set), Some(company)) => d.assignments.push(Assignment {
                security_id: sid,
                set,
                company,
            }),
            _ => bad(
                "accessControls",
                r,
                "userSecurityId, roleId, scope, appId and company",
            ),
        }
    }
    for r in &rows[4] {
        let object_id = r["objectId"].as_u64().and_then(|n| u32::try_from(n).ok());
        let read = text(r, "readPermission").map(|v| Read::parse(&v));
        match (set_of(r), object_id, read) {
            (Some(set), Some(object_id), Some(Ok(read))) => d.expanded.push(TablePermission {
                set,
                object_id,
                read,
            }),
            _ => bad(
                "expandedPermissionSets",
                r,
                "roleId, scope, appId, a whole objectId and a known readPermission",
            ),
        }
    }
    Ok((d, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(role: &str) -> SetId {
        SetId {
            role_id: role.into(),
            scope: "System".into(),
            app_id: "437dbf0e-84ff-417a-965d-ed2bb9650972".into(),
        }
    }

    fn perm(role: &str, table: u32, read: Read) -> TablePermission {
        TablePermission {
            set: set(role),
            object_id: table,
            read,
        }
    }

    fn user(name: &str, enabled: bool) -> BcUser {
        BcUser {
            security_id: format!("sid-{name}"),
            user_name: name.into(),
            display_name: name.into(),
            enabled,
            contact_email: String::new(),
        }
    }

    fn assign(who: &str, role: &str, company: &str) -> Assignment {
        Assignment {
            security_id: format!("sid-{who}"),
            set: set(role),
            company: company.into(),
        }
    }

    /// BASIC: direct on drafts, indirect on posted sales invoices; SALES:
    /// direct on both; SUPER: everything (object 0).
    fn directory() -> Directory {
        let invoice = tables_of("salesInvoices").unwrap();
        let mut expanded = vec![
            perm("D365 BASIC", 36, Read::Direct),
            perm("D365 BASIC", 37, Read::Direct),
            perm("D365 BASIC", 112, Read::Indirect),
            perm("D365 BASIC", 38, Read::Direct),
            perm("SUPER", 0, Read::Direct),
        ];
        expanded.extend(
            invoice
                .iter()
                .map(|t| perm("D365 SALES DOC, EDIT", *t, Read::Direct)),
        );
        Directory {
            users: vec![
                user("ALICE", true),
                user("BOB", true),
                user("DAVE", true),
                user("ERIN", false),
                user("ADMIN", true),
            ],
            groups: vec![BcGroup {
                code: "SALES".into(),
                name: "Sales Team".into(),
                group_id: "g-1".into(),
                group_user_sid: "sid-SALES".into(),
                members: vec!["sid-DAVE".into(), "sid-ALICE".into()],
            }],
            assignments: vec![
                assign("ALICE", "D365 BASIC", ""),
                assign("ALICE", "D365 SALES DOC, EDIT", "CRONUS"),
                assign("BOB", "D365 BASIC", ""),
                assign("ERIN", "SUPER", ""),
                assign("ADMIN", "SUPER", ""),
                assign("SALES", "D365 SALES DOC, EDIT", "OTHER"),
            ],
            expanded,
        }
    }

    #[test]
    fn a_sales_set_in_one_company_reads_its_invoices_and_not_another_companys() {
        let d = directory();
        let invoices = tables_of("salesInvoices").unwrap();
        let cronus = d.readers("CRONUS", invoices);
        let names: Vec<&Principal> = cronus.keys().collect();
        assert_eq!(
            names,
            [
                &Principal::User("ADMIN".into()),
                &Principal::User("ALICE".into())
            ]
        );
        // Every set that grants one of the tables is named: BASIC reads the
        // drafts, the sales set everything.
        assert_eq!(
            cronus[&Principal::User("ALICE".into())].sets,
            [
                ("D365 BASIC".to_string(), String::new()),
                ("D365 SALES DOC, EDIT".to_string(), "CRONUS".to_string())
            ]
        );
        // BOB's BASIC reads posted invoices only indirectly: not a reader.
        // ERIN is disabled. In OTHER, ALICE's sales set does not apply, the
        // group's does.
        let other = d.readers("OTHER", invoices);
        assert!(!other.contains_key(&Principal::User("ALICE".into())));
        assert!(other.contains_key(&Principal::Group("SALES".into())));
    }

    #[test]
    fn purchase_invoices_need_their_own_tables() {
        let d = directory();
        let readers = d.readers("CRONUS", tables_of("purchaseInvoices").unwrap());
        assert_eq!(
            readers.keys().collect::<Vec<_>>(),
            [&Principal::User("ADMIN".into())],
            "BASIC reads Purchase Header but not posted purchase invoices"
        );
    }

    #[test]
    fn group_members_read_through_the_group_for_user_only_destinations() {
        let d = directory();
        let users = d.reading_users("OTHER", tables_of("salesInvoices").unwrap());
        assert_eq!(
            users.keys().cloned().collect::<Vec<_>>(),
            ["ADMIN", "ALICE", "DAVE"]
        );
        assert_eq!(users["DAVE"].through_group.as_deref(), Some("SALES"));
        assert_eq!(users["ADMIN"].through_group, None);
    }

    #[test]
    fn every_catalog_entity_names_its_tables() {
        for e in crate::catalog::CATALOG {
            assert!(tables_of(e.entity_set).is_some(), "{}", e.entity_set);
        }
        assert_eq!(Read::parse("_x0020_"), Ok(Read::None));
        assert!(Read::parse("Maybe").is_err());
    }
}
