//! The `companies` table: BC company names per environment, remembered so
//! that a run need not list companies before every sync.

use super::StateStore;
use crate::db::vals;
use crate::error::StateError;
use crate::time;
use chrono::{DateTime, Utc};

impl StateStore {
    /// The remembered name of a company and when it was last seen in BC.
    pub fn company(
        &self,
        environment: &str,
        company_id: &str,
    ) -> Result<Option<(String, DateTime<Utc>)>, StateError> {
        let err = self.sql_err(format!("read company {environment}/{company_id}"));
        let row = self
            .conn
            .query_opt(
                "SELECT name, seen_at FROM companies WHERE environment = ?1 AND company_id = ?2",
                vals![environment, company_id],
            )
            .and_then(|row| row.map(|r| Ok((r.text(0)?, r.text(1)?))).transpose())
            .map_err(err)?;
        match row {
            None => Ok(None),
            Some((name, seen)) => {
                let seen = time::decode(&seen).map_err(|detail| StateError::Corrupt {
                    path: self.path.clone(),
                    what: format!("seen_at of company {environment}/{company_id}"),
                    detail,
                })?;
                Ok(Some((name, seen)))
            }
        }
    }

    /// Remembers the companies of an environment as seen now, replacing
    /// what was known of them.
    pub fn remember_companies(
        &mut self,
        environment: &str,
        companies: &[(String, String)],
    ) -> Result<(), StateError> {
        let err = self.sql_err(format!("remember the companies of {environment}"));
        let now = self.now_text();
        self.write(&err, |tx| {
            for (id, name) in companies {
                tx.execute(
                    "INSERT INTO companies (environment, company_id, name, seen_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (environment, company_id) DO UPDATE SET name = excluded.name, seen_at = excluded.seen_at",
                    vals![environment, id, name, &now],
                )
                .map_err(&err)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::StateStore;

    #[test]
    fn companies_are_remembered_and_replaced() {
        let mut s = StateStore::open_in_memory().unwrap();
        assert_eq!(s.company("production", "c1").unwrap(), None);
        s.remember_companies(
            "production",
            &[
                ("c1".into(), "CRONUS".into()),
                ("c2".into(), "Müller".into()),
            ],
        )
        .unwrap();
        assert_eq!(s.company("production", "c1").unwrap().unwrap().0, "CRONUS");
        assert_eq!(s.company("sandbox", "c1").unwrap(), None);
        s.remember_companies("production", &[("c1".into(), "CRONUS USA".into())])
            .unwrap();
        assert_eq!(
            s.company("production", "c1").unwrap().unwrap().0,
            "CRONUS USA"
        );
        s.reset().unwrap();
        assert_eq!(s.company("production", "c2").unwrap(), None);
    }
}

#[cfg(test)]
mod snapshot_tests {
    use crate::{Ack, StateStore, UnitKey};

    #[test]
    fn a_snapshot_holds_the_data_and_is_independent() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = StateStore::open(&dir.path().join("a.db")).unwrap();
        let run = s.begin_run(crate::RunKind::Full).unwrap();
        let unit = UnitKey::new("production", "c", "salesInvoices");
        let ack = Ack {
            doc_id: "d1".into(),
            bc_id: "b1".into(),
            content_hash: [7; 32],
        };
        s.commit_acks(&unit, run, &[ack]).unwrap();
        let snap = dir.path().join("snap.db");
        s.snapshot_to(&snap).unwrap();
        let mut copy = StateStore::open(&snap).unwrap();
        assert_eq!(copy.hash_of("d1").unwrap(), Some([7; 32]));
        copy.commit_deletes(&["d1".into()]).unwrap();
        assert_eq!(
            s.hash_of("d1").unwrap(),
            Some([7; 32]),
            "the original is untouched"
        );
    }
}
