//! The `groups` table: the groups bcq has set in Amazon Q Business, so that
//! one removed from the configuration can be deleted from Q as well
//! (bcq deletes only groups it put itself).

use super::StateStore;
use crate::db::vals;
use crate::error::StateError;

impl StateStore {
    /// The groups bcq has put in Q and not deleted since: (name, the data
    /// source of a DATASOURCE group).
    pub fn groups(&self) -> Result<Vec<(String, Option<String>)>, StateError> {
        self.conn
            .query("SELECT name, data_source_id FROM groups ORDER BY name", &[])
            .and_then(|rows| {
                rows.iter()
                    .map(|r| Ok((r.text(0)?, r.opt_text(1)?)))
                    .collect()
            })
            .map_err(self.sql_err("read the groups put in Q"))
    }

    /// Records groups just put in Q (replacing what was known of them).
    pub fn remember_groups(
        &mut self,
        groups: &[(String, Option<String>)],
    ) -> Result<(), StateError> {
        let err = self.sql_err("remember the groups put in Q");
        let now = self.now_text();
        self.write(&err, |tx| {
            for (name, ds) in groups {
                tx.execute(
                    "INSERT INTO groups (name, data_source_id, put_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET data_source_id = excluded.data_source_id, put_at = excluded.put_at",
                    vals![name, ds, &now],
                )
                .map_err(&err)?;
            }
            Ok(())
        })
    }

    /// Forgets a group deleted from Q.
    pub fn forget_group(&mut self, name: &str) -> Result<(), StateError> {
        self.conn
            .execute("DELETE FROM groups WHERE name = ?1", vals![name])
            .map(drop)
            .map_err(self.sql_err(format!("forget group {name}")))
    }
}

#[cfg(test)]
mod tests {
    use crate::StateStore;

    #[test]
    fn groups_are_remembered_replaced_and_forgotten() {
        let mut s = StateStore::open_in_memory().unwrap();
        assert!(s.groups().unwrap().is_empty());
        s.remember_groups(&[
            ("Finance".into(), None),
            ("Auditors".into(), Some("ds-1".into())),
        ])
        .unwrap();
        s.remember_groups(&[("Finance".into(), Some("ds-1".into()))])
            .unwrap();
        assert_eq!(
            s.groups().unwrap(),
            vec![
                ("Auditors".to_string(), Some("ds-1".to_string())),
                ("Finance".to_string(), Some("ds-1".to_string()))
            ]
        );
        s.forget_group("Auditors").unwrap();
        s.forget_group("never-put").unwrap();
        assert_eq!(
            s.groups().unwrap(),
            vec![("Finance".to_string(), Some("ds-1".to_string()))]
        );
    }
}
