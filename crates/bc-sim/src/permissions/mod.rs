//! Who may read what: BC's users, security groups, permission-set
//! assignments and expanded permission sets, per environment, served
//! through BC's automation API (`api/microsoft/automation/v2.0`, see
//! [`api`]) and changed through the control API (`/_sim/permissions`).
//!
//! As in BC, this data is tenant-wide (per environment), not per company:
//! an assignment names the company it applies in by name, and a blank
//! company means every company. A security group is a BC record naming an
//! Entra group (its object id), with a pseudo-user (`groupUserSecurityId`)
//! that holds the group's permission sets; its members are the BC users in
//! that Entra group.
//!
//! The generated directory of an environment (deterministic: ids are
//! UUID v5 of the environment and the name):
//!
//! | user | email | permission sets |
//! |---|---|---|
//! | ADMIN | admin@contoso.example | SUPER, every company |
//! | ALICE | alice@contoso.example | D365 BASIC everywhere; D365 SALES DOC, EDIT in the first company; member of SALES |
//! | BOB | bob@contoso.example | D365 BASIC and D365 PURCH DOC, EDIT, every company |
//! | CAROL | (none) | member of FINANCE |
//! | DAVE | dave@contoso.example | member of SALES |
//! | ERIN | erin@contoso.example | D365 BUS FULL ACCESS, every company; disabled |
//! | GUEST | guest@contoso.example | nothing |
//!
//! | group | Entra name | permission sets |
//! |---|---|---|
//! | SALES | Sales Team | D365 BASIC and D365 SALES DOC, EDIT, every company |
//! | FINANCE | Finance | D365 ACC. RECEIVABLE and D365 ACC. PAYABLE in the first company |

pub mod api;
pub mod sets;

use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use uuid::Uuid;

/// A BC user.
#[derive(Clone, Debug, Serialize)]
pub struct User {
    /// `userSecurityId`.
    pub security_id: Uuid,
    /// `userName` (`Code[50]`, upper case).
    pub user_name: String,
    /// `displayName` (the full name).
    pub display_name: String,
    /// `state`: `Enabled` or `Disabled`.
    pub state: &'static str,
    /// `contactEmail`; empty when BC has none.
    pub contact_email: String,
}

/// A BC security group.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    /// `code` (`Code[20]`).
    pub code: String,
    /// `groupName`: the Entra group's display name.
    pub name: String,
    /// `id`/`groupId`: the Entra group's object id.
    pub group_id: String,
    /// `groupUserSecurityId`: the pseudo-user holding the group's sets.
    pub group_user_sid: Uuid,
    /// Members' `userSecurityId`s.
    pub members: Vec<Uuid>,
}

/// One permission-set assignment (an `Access Control` row).
#[derive(Clone, Debug, Serialize)]
pub struct Grant {
    /// `id` (SystemId).
    pub id: Uuid,
    /// The user's or the group pseudo-user's security id.
    pub user_sid: Uuid,
    /// `roleId`: a standard set of [`sets::STANDARD`].
    pub role_id: String,
    /// `company`: the company's name, empty for every company.
    pub company: String,
}

/// The directory of one environment.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EnvDirectory {
    /// Users.
    pub users: Vec<User>,
    /// Security groups.
    pub groups: Vec<Group>,
    /// Permission-set assignments of users and of group pseudo-users.
    pub grants: Vec<Grant>,
}

/// Who gets or loses a permission set, for the control API.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct GrantChange {
    /// A user's `userName` or a group's `code`.
    pub principal: String,
    /// The permission set's role id, e.g. `D365 SALES DOC, EDIT`.
    pub role_id: String,
    /// The company's name; empty or absent for every company.
    #[serde(default)]
    pub company: String,
}

/// A membership change, for the control API.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct MemberChange {
    /// The group's `code`.
    pub group: String,
    /// The user's `userName`.
    pub user: String,
}

/// Every environment's directory.
#[derive(Debug)]
pub struct Directory {
    envs: Vec<Mutex<EnvDirectory>>,
}

/// A deterministic id for `name` in environment `env`.
fn id(env: &str, name: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("bc-sim/{env}/{name}").as_bytes(),
    )
}

impl Directory {
    /// The generated directory of each environment; `companies[e]` are the
    /// company names of environment `e`.
    pub fn generate(envs: &[(String, Vec<String>)]) -> Directory {
        Directory {
            envs: envs
                .iter()
                .map(|(env, companies)| Mutex::new(generate_env(env, companies)))
                .collect(),
        }
    }

    /// A copy of environment `env`'s directory.
    pub fn snapshot(&self, env: usize) -> EnvDirectory {
        self.envs
            .get(env)
            .map(|d| d.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }

    fn with<T>(&self, env: usize, f: impl FnOnce(&mut EnvDirectory) -> T) -> Option<T> {
        self.envs
            .get(env)
            .map(|d| f(&mut d.lock().unwrap_or_else(|e| e.into_inner())))
    }

    /// Assigns a permission set; an error names what does not exist.
    pub fn grant(&self, env: usize, env_name: &str, g: &GrantChange) -> Result<(), String> {
        if sets::standard(&g.role_id).is_none() {
            return Err(format!("no permission set {:?}", g.role_id));
        }
        self.with(env, |d| {
            let sid = d.principal(&g.principal)?;
            let exists = d
                .grants
                .iter()
                .any(|x| x.user_sid == sid && x.role_id == g.role_id && x.company == g.company);
            if !exists {
                d.grants.push(Grant {
                    id: id(
                        env_name,
                        &format!("grant/{sid}/{}/{}", g.role_id, g.company),
                    ),
                    user_sid: sid,
                    role_id: g.role_id.clone(),
                    company: g.company.clone(),
                });
            }
            Ok(())
        })
        .unwrap_or_else(|| Err("no such environment".into()))
    }

    /// Removes a permission-set assignment; `Ok(false)` if there was none.
    pub fn revoke(&self, env: usize, g: &GrantChange) -> Result<bool, String> {
        self.with(env, |d| {
            let sid = d.principal(&g.principal)?;
            let before = d.grants.len();
            d.grants.retain(|x| {
                !(x.user_sid == sid && x.role_id == g.role_id && x.company == g.company)
            });
            Ok(d.grants.len() < before)
        })
        .unwrap_or_else(|| Err("no such environment".into()))
    }

    /// Adds (`add`) or removes a group member.
    pub fn membership(&self, env: usize, m: &MemberChange, add: bool) -> Result<(), String> {
        self.with(env, |d| {
            let user = d
                .users
                .iter()
                .find(|u| u.user_name == m.user)
                .map(|u| u.security_id)
                .ok_or_else(|| format!("no user {:?}", m.user))?;
            let group = d
                .groups
                .iter_mut()
                .find(|g| g.code == m.group)
                .ok_or_else(|| format!("no security group {:?}", m.group))?;
            group.members.retain(|x| *x != user);
            if add {
                group.members.push(user);
            }
            Ok(())
        })
        .unwrap_or_else(|| Err("no such environment".into()))
    }
}

impl EnvDirectory {
    /// The security id of a user (by `userName`) or of a group's
    /// pseudo-user (by `code`).
    fn principal(&self, name: &str) -> Result<Uuid, String> {
        self.users
            .iter()
            .find(|u| u.user_name == name)
            .map(|u| u.security_id)
            .or_else(|| {
                self.groups
                    .iter()
                    .find(|g| g.code == name)
                    .map(|g| g.group_user_sid)
            })
            .ok_or_else(|| format!("no user or security group {name:?}"))
    }
}

fn generate_env(env: &str, companies: &[String]) -> EnvDirectory {
    let first = companies.first().cloned().unwrap_or_default();
    let user = |name: &str, display: &str, email: &str, state: &'static str| User {
        security_id: id(env, &format!("user/{name}")),
        user_name: name.to_owned(),
        display_name: display.to_owned(),
        state,
        contact_email: email.to_owned(),
    };
    let users = vec![
        user("ADMIN", "Administrator", "admin@contoso.example", "Enabled"),
        user("ALICE", "Alice Sales", "alice@contoso.example", "Enabled"),
        user("BOB", "Bob Purchasing", "bob@contoso.example", "Enabled"),
        user("CAROL", "Carol Controller", "", "Enabled"),
        user("DAVE", "Dave Sales Team", "dave@contoso.example", "Enabled"),
        user("ERIN", "Erin Former", "erin@contoso.example", "Disabled"),
        user("GUEST", "Guest", "guest@contoso.example", "Enabled"),
    ];
    let sid = |name: &str| id(env, &format!("user/{name}"));
    let group = |code: &str, name: &str, members: &[&str]| Group {
        code: code.to_owned(),
        name: name.to_owned(),
        group_id: id(env, &format!("entra-group/{code}")).to_string(),
        group_user_sid: id(env, &format!("group-user/{code}")),
        members: members.iter().map(|m| sid(m)).collect(),
    };
    let groups = vec![
        group("SALES", "Sales Team", &["ALICE", "DAVE"]),
        group("FINANCE", "Finance", &["CAROL"]),
    ];
    let mut d = EnvDirectory {
        users,
        groups,
        grants: Vec::new(),
    };
    let assignments: [(&str, &str, &str); 10] = [
        ("ADMIN", "SUPER", ""),
        ("ALICE", "D365 BASIC", ""),
        ("ALICE", "D365 SALES DOC, EDIT", &first),
        ("BOB", "D365 BASIC", ""),
        ("BOB", "D365 PURCH DOC, EDIT", ""),
        ("ERIN", "D365 BUS FULL ACCESS", ""),
        ("SALES", "D365 BASIC", ""),
        ("SALES", "D365 SALES DOC, EDIT", ""),
        ("FINANCE", "D365 ACC. RECEIVABLE", &first),
        ("FINANCE", "D365 ACC. PAYABLE", &first),
    ];
    for (principal, role, company) in assignments {
        let sid = d.principal(principal).expect("generated principal");
        d.grants.push(Grant {
            id: id(env, &format!("grant/{sid}/{role}/{company}")),
            user_sid: sid,
            role_id: role.to_owned(),
            company: company.to_owned(),
        });
    }
    d
}
