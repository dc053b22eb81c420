//! Index housekeeping outside the document pipeline: group memberships
//! kept from configuration (PutGroup, DeleteGroup) and listing the data
//! source's documents (ListDocuments).

use crate::destination::{QDestination, failed};
use aws_sdk_qbusiness::types::{
    DocumentDetails, DocumentStatus, GroupMembers, MemberGroup, MemberUser, MembershipType,
};
use bcq_aws::code;
use bcq_core::acl::GroupSpec;
use bcq_core::destination::{DestinationError, GroupSync};
use bcq_core::document::Membership;

fn membership(m: Membership) -> MembershipType {
    match m {
        Membership::Index => MembershipType::Index,
        Membership::Datasource => MembershipType::Datasource,
    }
}

impl QDestination {
    /// Calls `f` with every document of the data source (ListDocuments,
    /// all pages).
    pub async fn for_each_document(
        &self,
        mut f: impl FnMut(&DocumentDetails),
    ) -> Result<(), DestinationError> {
        let target = &self.target;
        let mut token: Option<String> = None;
        loop {
            let page = self
                .caller
                .call(&self.other_calls, || {
                    self.client
                        .list_documents()
                        .application_id(&target.application_id)
                        .index_id(&target.index_id)
                        .data_source_ids(&target.data_source_id)
                        .set_next_token(token.clone())
                        .send()
                })
                .await
                .map_err(|e| DestinationError::fatal(failed("ListDocuments", &e)))?;
            page.document_detail_list().iter().for_each(&mut f);
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(());
            }
        }
    }

    /// The ids of the data source's documents that are not being deleted.
    pub(crate) async fn live_document_ids(&self) -> Result<Vec<String>, DestinationError> {
        let mut ids = Vec::new();
        self.for_each_document(|d| {
            let gone = matches!(
                d.status(),
                Some(DocumentStatus::Deleted) | Some(DocumentStatus::Deleting)
            );
            if !gone {
                ids.push(d.document_id().unwrap_or_default().to_string());
            }
        })
        .await?;
        Ok(ids)
    }

    /// Sets the configured groups in Q, then deletes the groups bcq put
    /// earlier that the configuration no longer has: before any document
    /// goes out, so their members lose access first. Groups bcq did not put
    /// are never touched.
    pub(crate) async fn keep_groups(
        &self,
        groups: &[GroupSpec],
        put_before: Vec<(String, Option<String>)>,
    ) -> Result<GroupSync, DestinationError> {
        let mut sync = GroupSync::default();
        if !groups.is_empty() {
            sync.put = self.put_groups(groups).await?;
        }
        for (name, data_source) in put_before {
            if groups.iter().any(|g| g.name == name) {
                continue;
            }
            self.delete_group(&name, data_source.as_deref()).await?;
            tracing::info!(group = %name, "group removed from the configuration deleted from Q");
            sync.deleted.push(name);
        }
        Ok(sync)
    }

    /// Sets each configured group's members in Q (PutGroup replaces the
    /// membership, so Q follows the configuration). Groups of membership
    /// DATASOURCE are mapped for this data source only. Returns each group
    /// put with that data source (`None` for INDEX), as
    /// [`QDestination::delete_group`] takes it.
    pub async fn put_groups(
        &self,
        groups: &[GroupSpec],
    ) -> Result<Vec<(String, Option<String>)>, DestinationError> {
        let target = self.target();
        let mut put = Vec::with_capacity(groups.len());
        for g in groups {
            let mut members = GroupMembers::builder();
            for u in &g.users {
                members = members.member_users(
                    MemberUser::builder()
                        .user_id(u)
                        .r#type(membership(g.membership))
                        .build()
                        .expect("user id is set"),
                );
            }
            for n in &g.groups {
                members = members.member_groups(
                    MemberGroup::builder()
                        .group_name(n)
                        .r#type(membership(g.membership))
                        .build()
                        .expect("group name is set"),
                );
            }
            let mut call = self
                .client()
                .put_group()
                .application_id(&target.application_id)
                .index_id(&target.index_id)
                .group_name(&g.name)
                .r#type(membership(g.membership))
                .group_members(members.build());
            let data_source =
                (g.membership == Membership::Datasource).then(|| target.data_source_id.clone());
            call = call.set_data_source_id(data_source.clone());
            self.caller
                .call(&self.other_calls, || call.clone().send())
                .await
                .map_err(|e| {
                    DestinationError::fatal(format!(
                        "{}; check the group names in [groups] and the qbusiness:PutGroup permission",
                        failed("PutGroup", &e)
                    ))
                })?;
            tracing::info!(group = %g.name, users = g.users.len(), groups = g.groups.len(), "group membership set in Q");
            put.push((g.name.clone(), data_source));
        }
        Ok(put)
    }

    /// Deletes a group's mapping from Q (DeleteGroup), with the data source
    /// it was put for; a group Q no longer has counts as deleted.
    pub async fn delete_group(
        &self,
        name: &str,
        data_source: Option<&str>,
    ) -> Result<(), DestinationError> {
        let target = self.target();
        let r = self
            .caller
            .call(&self.other_calls, || {
                self.client
                    .delete_group()
                    .application_id(&target.application_id)
                    .index_id(&target.index_id)
                    .group_name(name)
                    .set_data_source_id(data_source.map(str::to_string))
                    .send()
            })
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if code(&e.error) == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(DestinationError::fatal(format!(
                "{}; check the qbusiness:DeleteGroup permission",
                failed("DeleteGroup", &e)
            ))),
        }
    }
}
