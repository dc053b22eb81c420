//! The automation API's permission pages (`users`, `securityGroups`,
//! `securityGroupMembers`, `accessControls`, `expandedPermissionSets`,
//! `userPermissions`) and the control API that grants and revokes: shapes,
//! keys, navigation, filters, paging and errors as the AL pages define them.

mod common;

use common::{client, get, get_json, start, token};
use serde_json::{Value, json};

/// `.../api/microsoft/automation/v2.0/companies(<first company>)`.
fn automation(sim: &bc_sim::BcSim, env: &str, company: usize) -> String {
    let v2 = sim.api_root(env);
    format!(
        "{}/microsoft/automation/v2.0/companies({})",
        v2.trim_end_matches("/v2.0"),
        sim.companies(env)[company].id
    )
}

fn names(v: &Value, field: &str) -> Vec<String> {
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_pages_have_the_al_pages_shapes_keys_and_navigation() {
    let sim = start(bc_sim::SimConfig::default()).await;
    let tok = token(&sim).await;
    let root = automation(&sim, "production", 0);

    let users = get_json(&format!("{root}/users"), &tok).await;
    let context = users["@odata.context"].as_str().unwrap();
    assert!(
        context.contains("/microsoft/automation/v2.0/$metadata#companies(")
            && context.ends_with(")/users"),
        "{context}"
    );
    let alice = users["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userName"] == "ALICE")
        .unwrap()
        .clone();
    let keys: Vec<&String> = alice.as_object().unwrap().keys().collect();
    for k in [
        "userSecurityId",
        "userName",
        "displayName",
        "state",
        "expiryDate",
        "contactEmail",
    ] {
        assert!(keys.iter().any(|x| x.as_str() == k), "users lacks {k}");
    }
    let sid = alice["userSecurityId"].as_str().unwrap();
    // Keyed by userSecurityId; the parts navigate from it.
    let one = get_json(&format!("{root}/users({sid})"), &tok).await;
    assert_eq!(one["userName"], "ALICE");
    assert!(
        one["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/$entity")
    );
    let perms = get_json(&format!("{root}/users({sid})/userPermissions"), &tok).await;
    let mut roles = names(&perms, "roleId");
    roles.sort();
    assert_eq!(roles, ["D365 BASIC", "D365 SALES DOC, EDIT"]);
    let company = sim.companies("production")[0].name.clone();
    let sales = perms["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["roleId"] == "D365 SALES DOC, EDIT")
        .unwrap();
    assert_eq!(sales["company"], company.as_str());
    assert_eq!(sales["scope"], "System");
    let memberships = get_json(&format!("{root}/users({sid})/securityGroupMembers"), &tok).await;
    assert_eq!(names(&memberships, "securityGroupCode"), ["SALES"]);

    // Security groups are keyed by their Entra object id (text); their
    // pseudo-user holds the group's permission sets.
    let groups = get_json(&format!("{root}/securityGroups"), &tok).await;
    let sales_group = groups["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["code"] == "SALES")
        .unwrap()
        .clone();
    assert_eq!(sales_group["groupName"], "Sales Team");
    assert_eq!(sales_group["id"], sales_group["groupId"]);
    let gid = sales_group["id"].as_str().unwrap();
    let members = get_json(
        &format!("{root}/securityGroups('{gid}')/securityGroupMembers"),
        &tok,
    )
    .await;
    let mut member_names = names(&members, "userName");
    member_names.sort();
    assert_eq!(member_names, ["ALICE", "DAVE"]);
    let group_sets = get_json(
        &format!("{root}/securityGroups('{gid}')/accessControls"),
        &tok,
    )
    .await;
    for row in group_sets["value"].as_array().unwrap() {
        assert_eq!(row["userSecurityId"], sales_group["groupUserSecurityId"]);
        assert_eq!(row["company"], "");
    }
    assert_eq!(group_sets["value"].as_array().unwrap().len(), 2);

    // accessControls: every assignment, users' and groups'.
    let acl = get_json(&format!("{root}/accessControls"), &tok).await;
    let row = &acl["value"][0];
    for k in [
        "id",
        "userSecurityId",
        "roleId",
        "roleName",
        "company",
        "userName",
        "fullName",
        "userLicenseType",
        "scope",
        "appId",
        "appName",
    ] {
        assert!(row.get(k).is_some(), "accessControls lacks {k}");
    }
    assert_eq!(acl["value"].as_array().unwrap().len(), 10);
    let by_id = get_json(
        &format!("{root}/accessControls({})", row["id"].as_str().unwrap()),
        &tok,
    )
    .await;
    assert_eq!(by_id["roleId"], row["roleId"]);

    // The data is tenant-wide: another company answers the same.
    let other = automation(&sim, "production", 1);
    let acl2 = get_json(&format!("{other}/accessControls"), &tok).await;
    assert_eq!(acl2["value"], acl["value"]);
}

#[tokio::test]
async fn expanded_permission_sets_follow_microsofts_standard_sets() {
    let sim = start(bc_sim::SimConfig::default()).await;
    let tok = token(&sim).await;
    let root = automation(&sim, "production", 0);
    let url = |filter: &str| {
        format!(
            "{root}/expandedPermissionSets?$filter={}",
            filter
                .replace(' ', "%20")
                .replace('\'', "%27")
                .replace(',', "%2C")
        )
    };
    let read = |v: &Value| v["value"][0]["readPermission"].as_str().map(str::to_owned);
    // D365 BASIC reads posted sales invoices only indirectly and posted
    // purchase invoices not at all; the sales document set reads them.
    let basic_112 = get_json(&url("roleId eq 'D365 BASIC' and objectId eq 112"), &tok).await;
    assert_eq!(read(&basic_112).as_deref(), Some("Indirect"));
    assert_eq!(basic_112["value"][0]["objectType"], "Table_x0020_Data");
    assert_eq!(basic_112["value"][0]["objectName"], "Sales Invoice Header");
    let basic_122 = get_json(&url("roleId eq 'D365 BASIC' and objectId eq 122"), &tok).await;
    assert_eq!(basic_122["value"].as_array().unwrap().len(), 0);
    let sales_112 = get_json(
        &url("roleId eq 'D365 SALES DOC, EDIT' and objectId eq 112"),
        &tok,
    )
    .await;
    assert_eq!(read(&sales_112).as_deref(), Some("Yes"));
    // SUPER is one row for every table: object id 0.
    let sup = get_json(&url("roleId eq 'SUPER'"), &tok).await;
    assert_eq!(sup["value"].as_array().unwrap().len(), 1);
    assert_eq!(sup["value"][0]["objectId"], 0);
    assert_eq!(sup["value"][0]["insertPermission"], "Yes");
    // A blank permission is sent as API v2.0 sends a blank option.
    assert_eq!(sales_112["value"][0]["insertPermission"], "_x0020_");
    // or / ne.
    let either = get_json(&url("roleId eq 'SUPER' or roleId eq 'SECURITY'"), &tok).await;
    assert_eq!(either["value"].as_array().unwrap().len(), 1);
    let not_super = get_json(&url("roleId ne 'SUPER' and objectId eq 18"), &tok).await;
    assert!(
        names(&not_super, "roleId").iter().all(|r| r != "SUPER"),
        "{not_super}"
    );
}

#[tokio::test]
async fn paging_select_and_errors() {
    let sim = start(bc_sim::SimConfig::default()).await;
    let tok = token(&sim).await;
    let root = automation(&sim, "production", 0);
    // Server-driven paging: maxpagesize 50 over every expanded row.
    let mut url = format!("{root}/expandedPermissionSets?$select=id,roleId");
    let (mut rows, mut pages) = (Vec::new(), 0);
    loop {
        let r = client()
            .get(&url)
            .bearer_auth(&tok)
            .header("Prefer", "odata.maxpagesize=50")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        pages += 1;
        for row in v["value"].as_array().unwrap() {
            assert_eq!(row.as_object().unwrap().len(), 2, "$select: {row}");
            rows.push(row["id"].as_str().unwrap().to_owned());
        }
        match v["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    let all = get_json(&format!("{root}/expandedPermissionSets"), &tok).await;
    assert_eq!(rows.len(), all["value"].as_array().unwrap().len());
    let count = get(&format!("{root}/expandedPermissionSets/$count"), &tok).await;
    assert_eq!(count.status(), 200);
    assert_eq!(count.text().await.unwrap(), rows.len().to_string());
    let supers = get(
        &format!("{root}/expandedPermissionSets/$count?$filter=roleId%20eq%20%27SUPER%27"),
        &tok,
    )
    .await;
    assert_eq!(supers.text().await.unwrap(), "1");
    assert!(pages > 2, "{pages}");
    let mut unique = rows.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), rows.len(), "no row twice across pages");

    // userPermissions needs a user, as the AL page says.
    let r = get(&format!("{root}/userPermissions"), &tok).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Application_DialogException");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("You must specify a User Security ID")
    );
    // Unknown properties, unsupported options, unknown companies, writes.
    let r = get(&format!("{root}/users?$filter=email%20eq%20%27x%27"), &tok).await;
    assert_eq!(r.status(), 400);
    let r = get(&format!("{root}/users?$orderby=userName"), &tok).await;
    assert_eq!(r.status(), 400);
    let bad = root.replace(
        &sim.companies("production")[0].id.to_string(),
        "00000000-0000-0000-0000-000000000000",
    );
    assert_eq!(get(&format!("{bad}/users"), &tok).await.status(), 404);
    let r = client()
        .post(format!("{root}/users"))
        .bearer_auth(&tok)
        .json(&json!({"userName": "MALLORY"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    // Without a token, as every BC route.
    let r = client().get(format!("{root}/users")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_control_api_grants_revokes_and_changes_membership() {
    let sim = start(bc_sim::SimConfig::default()).await;
    let tok = token(&sim).await;
    let root = automation(&sim, "production", 0);
    let base = sim.base_url();
    let control = |method: reqwest::Method, path: &str, body: Value| {
        let url = format!("{base}/_sim/permissions/production/{path}");
        async move {
            client()
                .request(method, url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let guest_roles = || async {
        let users = get_json(
            &format!("{root}/users?$filter=userName%20eq%20%27GUEST%27"),
            &tok,
        )
        .await;
        let sid = users["value"][0]["userSecurityId"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut r = names(
            &get_json(&format!("{root}/users({sid})/userPermissions"), &tok).await,
            "roleId",
        );
        r.sort();
        r
    };
    assert!(guest_roles().await.is_empty());
    let grant = json!({"principal": "GUEST", "role_id": "D365 READ"});
    assert_eq!(
        control(reqwest::Method::POST, "grants", grant.clone()).await,
        204
    );
    assert_eq!(guest_roles().await, ["D365 READ"]);
    assert_eq!(
        control(reqwest::Method::DELETE, "grants", grant.clone()).await,
        204
    );
    assert!(guest_roles().await.is_empty());
    // Revoking what is not held, or granting an unknown set, says so.
    assert_eq!(
        control(reqwest::Method::DELETE, "grants", grant.clone()).await,
        400
    );
    assert_eq!(
        control(
            reqwest::Method::POST,
            "grants",
            json!({"principal": "GUEST", "role_id": "NO SUCH SET"})
        )
        .await,
        400
    );
    // Membership.
    assert_eq!(
        control(
            reqwest::Method::POST,
            "members",
            json!({"group": "FINANCE", "user": "GUEST"})
        )
        .await,
        204
    );
    let members = get_json(&format!("{root}/securityGroupMembers"), &tok).await;
    assert!(
        members["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["securityGroupCode"] == "FINANCE" && m["userName"] == "GUEST")
    );
    let snapshot: Value = client()
        .get(format!("{}/_sim/permissions/production", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(snapshot["users"].as_array().unwrap().len(), 7);
}
