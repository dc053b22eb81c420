//! Who may read what, from Business Central's own permissions: bcq's
//! reader of the automation API (`bcq_core::bc_access::read`) against the
//! BC emulator's generated directory, over real HTTP with a real token,
//! and the readers it computes per company and entity, before and after a
//! permission set is revoked in BC. (The groundwork of `access.source =
//! "bc"`; the destination's access lists come next.)

mod common;

use bcq_core::bc_access::{self, Principal, tables_of};
use common::{bc, q_fast};
use std::collections::BTreeSet;

fn principals(readers: &std::collections::BTreeMap<Principal, bc_access::Why>) -> BTreeSet<String> {
    readers
        .keys()
        .map(|p| match p {
            Principal::User(u) => format!("user {u}"),
            Principal::Group(g) => format!("group {g}"),
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bc_permissions_decide_who_reads_each_company_and_entity() {
    let emu = bcq::demo::Emulators::start_with(bc(5), q_fast())
        .await
        .unwrap();
    let mut raw = bcq::config::Raw::default();
    for (k, v) in emu.settings("production") {
        raw.set_flag(k, v).unwrap();
    }
    let cfg = raw.build_for(false).unwrap();
    let client = bcq::plan::bc_client(&cfg, "production").unwrap();
    let companies = emu.bc.companies("production");
    let (a, b) = (companies[0].name.clone(), companies[1].name.clone());

    let before = client.stats();
    let (dir, problems) = bc_access::read(&client, &companies[0].id.to_string())
        .await
        .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    // One request per collection: the cost of re-reading every run.
    assert_eq!(
        client.stats().since(&before).requests,
        bc_access::READ_SETS.len() as u64
    );
    assert_eq!(dir.users.len(), 7);

    let invoices = tables_of("salesInvoices").unwrap();
    let purchases = tables_of("purchaseInvoices").unwrap();
    // ALICE's sales set is hers in the first company only; BASIC alone
    // (BOB) reads posted invoices only indirectly; ERIN is disabled;
    // FINANCE's receivables set covers sales invoices in the first company.
    assert_eq!(
        principals(&dir.readers(&a, invoices)),
        set(&["user ADMIN", "user ALICE", "group SALES", "group FINANCE"])
    );
    assert_eq!(
        principals(&dir.readers(&b, invoices)),
        set(&["user ADMIN", "group SALES"])
    );
    assert_eq!(
        principals(&dir.readers(&a, purchases)),
        set(&["user ADMIN", "user BOB", "group FINANCE"])
    );
    assert_eq!(
        principals(&dir.readers(&b, purchases)),
        set(&["user ADMIN", "user BOB"])
    );
    let why = &dir.readers(&a, invoices)[&Principal::User("ALICE".into())];
    assert!(
        why.sets
            .contains(&("D365 SALES DOC, EDIT".to_string(), a.clone())),
        "{why:?}"
    );
    // For destinations whose lists name users only: members through groups.
    let users = dir.reading_users(&b, invoices);
    assert_eq!(
        users.keys().cloned().collect::<BTreeSet<_>>(),
        set(&["ADMIN", "ALICE", "DAVE"])
    );
    assert_eq!(users["DAVE"].through_group.as_deref(), Some("SALES"));

    // Revoked in BC: the next read says so.
    let r = reqwest::Client::new()
        .delete(format!(
            "{}/_sim/permissions/production/grants",
            emu.bc.base_url()
        ))
        .json(&serde_json::json!({"principal": "SALES", "role_id": "D365 SALES DOC, EDIT"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (dir, _) = bc_access::read(&client, &companies[1].id.to_string())
        .await
        .unwrap();
    assert_eq!(principals(&dir.readers(&b, invoices)), set(&["user ADMIN"]));
}

/// Access from BC, every company, sales and purchase invoices.
const BC_ENV: [(&str, &str); 3] = [
    ("BCQ_ACCESS_SOURCE", "bc"),
    ("BC_COMPANIES", "all"),
    ("BCQ_ENTITIES", "salesInvoices,purchaseInvoices"),
];

/// Declares the attributes purchase invoices bring, then syncs under
/// [`BC_ENV`]; both must succeed.
async fn declare_and_sync(w: &common::World) {
    w.bcq(&["index-schema", "--apply"], &BC_ENV)
        .await
        .assert_ok();
    w.bcq(&["sync", "--no-progress"], &BC_ENV).await.assert_ok();
}

/// The first live document of `entity` in `company` that Q holds.
fn doc_of(docs: &[serde_json::Value], company: &str, entity: &str) -> String {
    docs.iter()
        .filter_map(|d| d["id"].as_str())
        .find(|id| id.contains(&format!("/{company}/{entity}/")))
        .unwrap_or_else(|| panic!("Q holds no {entity} of {company}"))
        .to_owned()
}

/// `BCQ_ACCESS_SOURCE=bc` through the real binary: Q's own access check
/// agrees with BC's permissions (a sales set in company A reads A's sales
/// invoices, not its purchase invoices nor B's), revoking the set in BC
/// removes the access after the next run, which re-pushes only what
/// changed, and a reader without an email is reported and reads nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_from_bc_reaches_q_and_follows_a_revoke() {
    let w = common::World::start(bc(5), q_fast()).await;
    let env = BC_ENV;
    // CAROL has no contact email in BC, but reads only through FINANCE,
    // whose membership Q resolves itself: nothing to report.
    declare_and_sync(&w).await;
    let companies = w.emu.bc.companies("production");
    let (a, b) = (
        companies[0].id.to_string().to_ascii_lowercase(),
        companies[1].id.to_string().to_ascii_lowercase(),
    );
    let docs = w.q_documents().await;
    let (sales_a, sales_b, purchase_a) = (
        doc_of(&docs, &a, "salesInvoices"),
        doc_of(&docs, &b, "salesInvoices"),
        doc_of(&docs, &a, "purchaseInvoices"),
    );
    for (user, doc, want) in [
        ("alice@contoso.example", &sales_a, true),
        ("alice@contoso.example", &sales_b, false),
        ("alice@contoso.example", &purchase_a, false),
        ("bob@contoso.example", &purchase_a, true),
        ("bob@contoso.example", &sales_a, false),
        ("admin@contoso.example", &sales_b, true),
        ("erin@contoso.example", &sales_a, false),
        ("guest@contoso.example", &sales_a, false),
    ] {
        assert_eq!(w.has_access(user, doc).await, want, "{user} on {doc}");
    }
    let put_before = w.q_counts().await["documents_put"].as_u64().unwrap();

    // Revoked in BC (and CAROL given a read set of her own, without an
    // email to name her by): the next run re-pushes company A's sales
    // invoices only, and names CAROL.
    let control = format!("{}/_sim/permissions/production/grants", w.emu.bc.base_url());
    let r = reqwest::Client::new()
        .post(&control)
        .json(&serde_json::json!({"principal": "CAROL", "role_id": "D365 READ"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = reqwest::Client::new()
        .delete(format!(
            "{}/_sim/permissions/production/grants",
            w.emu.bc.base_url()
        ))
        .json(&serde_json::json!({
            "principal": "ALICE",
            "role_id": "D365 SALES DOC, EDIT",
            "company": companies[0].name,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = w.bcq(&["sync", "--no-progress"], &env).await;
    assert_eq!(r.code, 1, "{}", r.both());
    assert!(
        r.both().contains("BC user CAROL may read") && r.both().contains("they get no access"),
        "{}",
        r.both()
    );
    assert!(!w.has_access("alice@contoso.example", &sales_a).await);
    assert!(w.has_access("admin@contoso.example", &sales_a).await);
    let pushed = w.q_counts().await["documents_put"].as_u64().unwrap() - put_before;
    assert_eq!(
        pushed, 5,
        "only company A's 5 sales invoices are pushed again"
    );
}

/// `bcq access explain` gives Q's own answer (CheckDocumentAccess) for a
/// table of users × companies × entities, once the identity provider knows
/// the members of BC's security groups (here: bcq's own [groups], as an
/// identity source would sync them into Q).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_explain_agrees_with_q_for_users_and_units() {
    let w = common::World::start(bc(3), q_fast()).await;
    std::fs::write(
        w.dir.path().join("bcq.toml"),
        r#"
[groups."Sales Team"]
users = ["alice@contoso.example", "dave@contoso.example"]
[groups."Finance"]
users = ["carol@contoso.example"]
"#,
    )
    .unwrap();
    let env = BC_ENV;
    declare_and_sync(&w).await;
    let docs = w.q_documents().await;
    let companies = w.emu.bc.companies("production");
    let mut checked = 0;
    for user in ["alice", "bob", "carol", "dave", "erin", "guest", "admin"] {
        let email = format!("{user}@contoso.example");
        for c in &companies {
            let cid = c.id.to_string().to_ascii_lowercase();
            for entity in ["salesInvoices", "purchaseInvoices"] {
                let r = w
                    .bcq(
                        &[
                            "access",
                            "explain",
                            // By BC user name: CAROL has no email in BC.
                            &user.to_uppercase(),
                            "--entity",
                            entity,
                            "--company",
                            &c.name,
                        ],
                        &env,
                    )
                    .await;
                r.assert_ok();
                let line = r
                    .stdout
                    .lines()
                    .find(|l| l.contains(&format!("{entity} of {}", c.name)))
                    .unwrap_or_else(|| panic!("{}", r.stdout))
                    .to_owned();
                let explained = line.starts_with('✔');
                let doc = doc_of(&docs, &cid, entity);
                assert_eq!(
                    explained,
                    w.has_access(&email, &doc).await,
                    "{email} on {doc}: bcq access explain said {line:?}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 28);
    // And it says why.
    let r = w
        .bcq(
            &["access", "explain", "BOB", "--entity", "salesInvoices"],
            &env,
        )
        .await;
    r.assert_ok();
    assert!(
        r.stdout.contains("✖ salesInvoices of") && r.stdout.contains("tables 112, 113"),
        "{}",
        r.stdout
    );
    let r = w
        .bcq(&["access", "explain", "dave@contoso.example"], &env)
        .await;
    assert!(
        r.stdout.contains("as a member of security group SALES"),
        "{}",
        r.stdout
    );
    let r = w
        .bcq(&["access", "explain", "nobody@contoso.example"], &env)
        .await;
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("is no user of Business Central"),
        "{}",
        r.stderr
    );
}

/// `bcq check` shows, per company and entity, who may read it according to
/// BC, and names the read access the app lacks when BC refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_shows_who_reads_each_unit_and_names_a_missing_permission() {
    let w = common::World::start(bc(3), q_fast()).await;
    let env = [("BCQ_ACCESS_SOURCE", "bc"), ("BC_COMPANIES", "all")];
    let r = w.bcq(&["check"], &env).await;
    let company = &w.emu.bc.companies("production")[0].name;
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains(&format!("who may read salesInvoices of {company}")))
        .unwrap_or_else(|| panic!("{}", r.stdout))
        .to_owned();
    for who in [
        "admin@contoso.example",
        "alice@contoso.example",
        "group Sales Team",
        "group Finance",
    ] {
        assert!(line.contains(who), "{line}");
    }
    assert!(!line.contains("bob@"), "{line}");
    assert!(
        line.contains(&format!("D365 SALES DOC, EDIT ({company})")),
        "{line}"
    );
    // bcq status says the same, asking BC.
    let status = w.bcq(&["status"], &env).await;
    status.assert_ok();
    assert!(
        status
            .stdout
            .contains("who may read (asked Business Central now):")
            && status.stdout.contains(&format!(
                "salesInvoices of {company}: admin@contoso.example through SUPER"
            )),
        "{}",
        status.stdout
    );
    // The app may not read accessControls: named, with what to grant.
    let r = reqwest::Client::new()
        .post(format!("{}/_sim/faults", w.emu.bc.base_url()))
        .json(&serde_json::json!({
            "path_contains": "accessControls", "kind": "status", "status": 403, "count": 100
        }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = w.bcq(&["check"], &env).await;
    assert_ne!(r.code, 0, "{}", r.stdout);
    let failed = r
        .stdout
        .lines()
        .find(|l| l.contains("access from Business Central"))
        .unwrap_or_else(|| panic!("{}", r.stdout))
        .to_owned();
    assert!(
        failed.contains("✖") && failed.contains("accessControls") && failed.contains("403"),
        "{failed}"
    );
}

/// Into a Bedrock knowledge base, whose access lists name users only: BC's
/// security groups arrive as their members, and `Retrieve` with
/// `userContext` returns an invoice to exactly the users BC lets read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_gets_bc_groups_as_their_members() {
    let w = common::World::start(bc(20), q_fast()).await;
    let mut env = w.bedrock_env();
    env.push(("BCQ_ACCESS_SOURCE", "bc".into()));
    env.push(("BC_COMPANIES", "all".into()));
    let r = w
        .bcq(&["sync", "--no-progress"], &common::pairs(&env))
        .await;
    // CAROL reads company A's invoices through FINANCE but has no email:
    // with users-only lists she must be named, so she is reported.
    assert_eq!(r.code, 1, "{}", r.both());
    assert!(r.both().contains("BC user CAROL may read"), "{}", r.both());
    let inv = &w.bc_invoices().await[3];
    let id = w.invoice_doc_id(inv["id"].as_str().unwrap());
    let docs = w.kb_documents().await;
    let doc = docs
        .iter()
        .find(|d| d["documentIdentifier"].to_string().contains(&id) || d.to_string().contains(&id))
        .unwrap_or_else(|| panic!("{id} not in the knowledge base"));
    let acl = doc["accessControlList"].to_string();
    assert!(
        !acl.contains("Sales Team"),
        "groups do not reach Bedrock: {acl}"
    );
    let q = format!(
        "invoice {} {}",
        inv["number"].as_str().unwrap(),
        inv["customerName"].as_str().unwrap()
    );
    let readers = |carol: bool| {
        [
            ("admin@contoso.example", true),
            ("alice@contoso.example", true),
            ("dave@contoso.example", true),
            ("carol@contoso.example", carol),
            ("bob@contoso.example", false),
            ("erin@contoso.example", false),
            ("guest@contoso.example", false),
        ]
    };
    for (user, reads) in readers(false) {
        assert_eq!(
            w.retrieve(user, &q).await.contains(&id),
            reads,
            "{user} on {id}: {acl}"
        );
    }
    // [bc_users] names her: the next run succeeds and she reads the invoice.
    w.write_config("[bc_users]\nCAROL = \"carol@contoso.example\"\n");
    let r = w
        .bcq(&["sync", "--no-progress"], &common::pairs(&env))
        .await;
    r.assert_ok();
    for (user, reads) in readers(true) {
        assert_eq!(
            w.retrieve(user, &q).await.contains(&id),
            reads,
            "{user} on {id}"
        );
    }
}

/// The `[[access]]` rules stay beside BC's: a DENY is added to BC's list
/// for the unit it matches, and `public = true` publishes a unit on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_rules_add_denys_and_publish_on_purpose() {
    let w = common::World::start(bc(3), q_fast()).await;
    let companies = w.emu.bc.companies("production");
    w.write_config(&format!(
        r#"
[[access]]
entities = ["purchaseInvoices"]
deny_users = ["bob@contoso.example"]

[[access]]
entities = ["salesInvoices"]
companies = ["{}"]
public = true
"#,
        companies[1].name
    ));
    declare_and_sync(&w).await;
    let docs = w.q_documents().await;
    let (a, b) = (
        companies[0].id.to_string().to_ascii_lowercase(),
        companies[1].id.to_string().to_ascii_lowercase(),
    );
    let purchase_a = doc_of(&docs, &a, "purchaseInvoices");
    let sales_a = doc_of(&docs, &a, "salesInvoices");
    let sales_b = doc_of(&docs, &b, "salesInvoices");
    // BC lets BOB read purchase invoices; the rule's DENY wins.
    assert!(!w.has_access("bob@contoso.example", &purchase_a).await);
    assert!(w.has_access("admin@contoso.example", &purchase_a).await);
    // Company B's sales invoices are published on purpose; A's are BC's.
    assert!(w.has_access("guest@contoso.example", &sales_b).await);
    assert!(!w.has_access("guest@contoso.example", &sales_a).await);
}
