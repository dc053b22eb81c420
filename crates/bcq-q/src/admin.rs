//! Index housekeeping outside the document pipeline: group memberships
//! kept from configuration (PutGroup, DeleteGroup) and listing the data
//! source's documents (ListDocuments).

use crate::retry::describe;
use crate::sink::{JobError, QSink};
use aws_sdk_qbusiness::types::{
    DocumentDetails, GroupMembers, MemberGroup, MemberUser, MembershipType,
};
use bcq_core::acl::GroupSpec;
use bcq_core::document::Membership;

fn membership(m: Membership) -> MembershipType {
    match m {
        Membership::Index => MembershipType::Index,
        Membership::Datasource => MembershipType::Datasource,
    }
}

impl QSink {
    /// Calls `f` with every document of the data source (ListDocuments,
    /// all pages).
    pub async fn for_each_document(
        &self,
        mut f: impl FnMut(&DocumentDetails),
    ) -> Result<(), JobError> {
        let target = self.target();
        let mut pages = self
            .client()
            .list_documents()
            .application_id(&target.application_id)
            .index_id(&target.index_id)
            .data_source_ids(&target.data_source_id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| JobError::Call {
                action: "ListDocuments",
                hint: "",
                detail: describe(&e),
            })?;
            page.document_detail_list().iter().for_each(&mut f);
        }
        Ok(())
    }

    /// Sets each configured group's members in Q (PutGroup replaces the
    /// membership, so Q follows the configuration). Groups of membership
    /// DATASOURCE are mapped for this data source only. Returns each group
    /// put with that data source (`None` for INDEX), as
    /// [`QSink::delete_group`] takes it.
    pub async fn put_groups(
        &self,
        groups: &[GroupSpec],
    ) -> Result<Vec<(String, Option<String>)>, JobError> {
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
            call.send().await.map_err(|e| JobError::Call {
                action: "PutGroup",
                hint: "; check the group names in [groups] and the qbusiness:PutGroup permission",
                detail: describe(&e),
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
    ) -> Result<(), JobError> {
        let target = self.target();
        let r = self
            .client()
            .delete_group()
            .application_id(&target.application_id)
            .index_id(&target.index_id)
            .group_name(name)
            .set_data_source_id(data_source.map(str::to_string))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e)
                if aws_sdk_qbusiness::error::ProvideErrorMetadata::code(&e)
                    == Some("ResourceNotFoundException")
                    && e.as_service_error().is_some() =>
            {
                Ok(())
            }
            Err(e) => Err(JobError::Call {
                action: "DeleteGroup",
                hint: "; check the qbusiness:DeleteGroup permission",
                detail: describe(&e),
            }),
        }
    }
}
