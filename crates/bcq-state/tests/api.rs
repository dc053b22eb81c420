//! Every method of the store: the conformance suite, run against both
//! backends (an in-memory SQLite store, and a PostgreSQL schema of its own
//! per test in the database of `BCQ_TEST_PG_URL`, by default the local
//! server's `test`), plus the few checks that only one backend can make.

mod support;

use std::sync::Arc;

use std::time::Duration;

use bcq_state::{Ack, BcSlot, RunCounts, StateError, StateStore, UnitKey, UnitState};
use chrono::{DateTime, Utc};
use support::{Backend, TempDir, ack, at, hash, unit};

fn store_at(b: &Backend, now: DateTime<Utc>) -> StateStore {
    b.open().with_clock(Arc::new(move || now))
}

/// Defines each function once and a `#[test]` for it under `sqlite::` and
/// under `postgres::`.
macro_rules! conformance {
    ($(fn $name:ident($b:ident: &Backend) $body:block)*) => {
        $(fn $name($b: &Backend) $body)*
        mod sqlite {
            $(#[test] fn $name() { super::$name(&super::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(&super::Backend::postgres()) })*
        }
    };
}

conformance! {
    // ---- documents ----------------------------------------------------------

    fn commit_acks_stores_hashes_that_hash_of_and_document_return(b: &Backend) {
        let mut store = store_at(b, at(100, 0));
        let customers = unit("customers");
        let run = store.begin_run(bcq_state::RunKind::Incremental).unwrap();
        assert_eq!(store.hash_of("c-1").unwrap(), None);
        assert_eq!(store.document("c-1").unwrap(), None);

        store
            .commit_acks(&customers, run, &[ack("c-1", 1), ack("c-2", 1)])
            .unwrap();

        assert_eq!(store.hash_of("c-1").unwrap(), Some(hash("c-1", 1)));
        assert_eq!(store.hash_of("c-2").unwrap(), Some(hash("c-2", 1)));
        assert_eq!(store.hash_of("c-3").unwrap(), None);
        let doc = store.document("c-2").unwrap().unwrap();
        assert_eq!(doc.doc_id, "c-2");
        assert_eq!(doc.bc_id, "bc-c-2");
        assert_eq!(doc.content_hash, hash("c-2", 1));
        assert_eq!(doc.pushed_at, at(100, 0));
        // An ack creates the unit, without a cursor: acks alone never move it.
        assert_eq!(store.unit(&customers).unwrap(), UnitState::default());
        assert_eq!(store.units().unwrap().len(), 1);
    }

    fn commit_acks_overwrites_a_known_document(b: &Backend) {
        let mut store = b.open();
        let (a, b) = (unit("customers"), unit("vendors"));
        let run = store.begin_run(bcq_state::RunKind::Full).unwrap();
        store.commit_acks(&a, run, &[ack("d-1", 1)]).unwrap();
        let run2 = store.begin_run(bcq_state::RunKind::Full).unwrap();
        store.commit_acks(&b, run2, &[ack("d-1", 2)]).unwrap();

        assert_eq!(store.hash_of("d-1").unwrap(), Some(hash("d-1", 2)));
        assert_eq!(store.count_documents(None).unwrap(), 1);
        assert_eq!(store.count_documents(Some(&a)).unwrap(), 0);
        assert_eq!(store.count_documents(Some(&b)).unwrap(), 1);
    }

    fn a_document_acknowledged_twice_in_one_commit_keeps_the_last(b: &Backend) {
        let mut store = b.open();
        let c = unit("customers");
        let run = store.begin_run(bcq_state::RunKind::Full).unwrap();
        // 250 acks (three INSERT statements), "d-7" three times.
        let mut acks: Vec<Ack> = (0..247).map(|i| ack(&format!("d-{i}"), 1)).collect();
        acks.insert(120, ack("d-7", 2));
        acks.push(ack("d-7", 3));
        acks.push(ack("d-200", 9));
        store.commit_acks(&c, run, &acks).unwrap();
        assert_eq!(store.count_documents(Some(&c)).unwrap(), 247);
        assert_eq!(store.hash_of("d-7").unwrap(), Some(hash("d-7", 3)));
        assert_eq!(store.hash_of("d-200").unwrap(), Some(hash("d-200", 9)));
        assert_eq!(store.hash_of("d-246").unwrap(), Some(hash("d-246", 1)));
    }

    fn commit_acks_with_no_acks_changes_nothing(b: &Backend) {
        let mut store = b.open();
        store.commit_acks(&unit("customers"), 1, &[]).unwrap();
        assert!(store.units().unwrap().is_empty());
    }

    fn failing_commit_acks_leaves_nothing_half_written(b: &Backend) {
        let mut store = b.open();
        let items = unit("items");
        let run = store.begin_run(bcq_state::RunKind::Incremental).unwrap();
        store.commit_acks(&items, run, &[ack("i-1", 1)]).unwrap();

        // The last ack violates CHECK (length(doc_id) > 0) after two rows of
        // the batch were already written inside the transaction.
        let mut bad = vec![ack("i-1", 2), ack("i-2", 1)];
        bad.push(Ack {
            doc_id: String::new(),
            bc_id: "bc-empty".into(),
            content_hash: [0; 32],
        });
        let err = store.commit_acks(&items, run, &bad).unwrap_err();
        assert!(matches!(err, StateError::Database { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("commit 3 acks for unit production/"),
            "{err}"
        );

        assert_eq!(
            store.hash_of("i-1").unwrap(),
            Some(hash("i-1", 1)),
            "update rolled back"
        );
        assert_eq!(store.hash_of("i-2").unwrap(), None, "insert rolled back");
        assert_eq!(store.count_documents(None).unwrap(), 1);

        // A new unit whose only batch fails is not created either.
        let vendors = unit("vendors");
        store
            .commit_acks(&vendors, run, &[ack("v-1", 1), bad[2].clone()])
            .unwrap_err();
        assert_eq!(store.units().unwrap().len(), 1);
        // The store is usable after the rollback.
        store.commit_acks(&items, run, &[ack("i-2", 1)]).unwrap();
        assert_eq!(store.count_documents(None).unwrap(), 2);
    }

    fn commit_acks_for_an_unknown_run_is_refused_and_rolled_back(b: &Backend) {
        let mut store = b.open();
        let err = store
            .commit_acks(&unit("items"), 42, &[ack("i-1", 1)])
            .unwrap_err();
        assert!(
            matches!(err, StateError::RunNotFound { run_id: 42, .. }),
            "{err:?}"
        );
        assert_eq!(store.count_documents(None).unwrap(), 0);
        assert!(store.units().unwrap().is_empty());
    }

    fn hashes_looks_up_ten_thousand_ids_in_chunks(b: &Backend) {
        let mut store = b.open();
        let run = store.begin_run(bcq_state::RunKind::Full).unwrap();
        let unit = unit("salesInvoices");
        // 10,000 known documents (even numbers), asked together with 10,000
        // unknown ones (odd numbers): 20,000 ids span 40 chunks of 500.
        let acks: Vec<Ack> = (0..20_000)
            .step_by(2)
            .map(|i| ack(&format!("inv-{i}"), i))
            .collect();
        store.commit_acks(&unit, run, &acks).unwrap();
        let ids: Vec<String> = (0..20_000).map(|i| format!("inv-{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();

        let found = store.hashes(&refs).unwrap();

        assert_eq!(found.len(), 10_000);
        for i in (0..20_000u32).step_by(2) {
            let id = format!("inv-{i}");
            assert_eq!(found.get(&id), Some(&hash(&id, i)), "{id}");
        }
        assert!(!found.contains_key("inv-1") && !found.contains_key("inv-19999"));
        assert!(store.hashes(&[]).unwrap().is_empty());
        // Duplicate ids within one request are answered once.
        assert_eq!(store.hashes(&["inv-0", "inv-0"]).unwrap().len(), 1);
    }

    fn doc_ids_of_unit_lists_only_that_unit_sorted(b: &Backend) {
        let mut store = b.open();
        let run = store.begin_run(bcq_state::RunKind::Full).unwrap();
        let (c, v) = (unit("customers"), unit("vendors"));
        store
            .commit_acks(&c, run, &[ack("c-2", 1), ack("c-1", 1)])
            .unwrap();
        store.commit_acks(&v, run, &[ack("v-1", 1)]).unwrap();

        assert_eq!(
            store.doc_ids_of_unit(&c).unwrap(),
            vec![
                ("c-1".to_string(), "bc-c-1".to_string()),
                ("c-2".to_string(), "bc-c-2".to_string())
            ]
        );
        assert_eq!(store.doc_ids_of_unit(&unit("items")).unwrap(), vec![]);
        assert_eq!(store.count_documents(Some(&c)).unwrap(), 2);
        assert_eq!(store.count_documents(None).unwrap(), 3);
    }

    fn commit_deletes_forgets_documents_and_ignores_unknown_ids(b: &Backend) {
        let mut store = b.open();
        let run = store.begin_run(bcq_state::RunKind::Full).unwrap();
        let c = unit("customers");
        store
            .commit_acks(&c, run, &[ack("c-1", 1), ack("c-2", 1), ack("c-3", 1)])
            .unwrap();

        store
            .commit_deletes(&["c-1".into(), "c-3".into(), "never-seen".into()])
            .unwrap();
        store.commit_deletes(&[]).unwrap();

        assert_eq!(store.hash_of("c-1").unwrap(), None);
        assert_eq!(store.hash_of("c-2").unwrap(), Some(hash("c-2", 1)));
        assert_eq!(store.count_documents(Some(&c)).unwrap(), 1);
    }

    fn cursor_advances_and_refuses_to_move_backwards(b: &Backend) {
        let mut store = b.open();
        let c = unit("customers");
        assert_eq!(store.unit(&c).unwrap().cursor, None);

        store.advance_cursor(&c, at(10, 250)).unwrap();
        assert_eq!(store.unit(&c).unwrap().cursor, Some(at(10, 250)));
        // Same instant: allowed (a read that found nothing newer).
        store.advance_cursor(&c, at(10, 250)).unwrap();
        store.advance_cursor(&c, at(20, 0)).unwrap();

        // One millisecond back is still backwards: sub-second digits count.
        let err = store.advance_cursor(&c, at(19, 999)).unwrap_err();
        match &err {
            StateError::CursorBackwards { unit, old, new, .. } => {
                assert_eq!(unit, &c);
                assert_eq!(*old, at(20, 0));
                assert_eq!(*new, at(19, 999));
            }
            other => panic!("expected CursorBackwards, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains(&c.to_string()) && msg.contains("backwards"),
            "{msg}"
        );
        assert_eq!(store.unit(&c).unwrap().cursor, Some(at(20, 0)), "unchanged");
    }

    fn cursors_are_per_unit(b: &Backend) {
        let mut store = b.open();
        let a = UnitKey::new("production", "company-a", "customers");
        let b = UnitKey::new("production", "company-b", "customers");
        let sandbox = UnitKey::new("sandbox", "company-a", "customers");
        store.advance_cursor(&a, at(50, 0)).unwrap();
        store.advance_cursor(&b, at(5, 0)).unwrap();

        assert_eq!(store.unit(&a).unwrap().cursor, Some(at(50, 0)));
        assert_eq!(store.unit(&b).unwrap().cursor, Some(at(5, 0)));
        assert_eq!(store.unit(&sandbox).unwrap(), UnitState::default());
    }

    fn mark_reconciled_and_units_listing(b: &Backend) {
        let mut store = b.open();
        let custom = UnitKey::new("production", "company-a", "contoso/app/v1.0/widgets");
        let vendors = unit("vendors");
        store.mark_reconciled(&vendors, at(7, 0)).unwrap();
        store.advance_cursor(&custom, at(3, 0)).unwrap();
        store.mark_reconciled(&custom, at(9, 0)).unwrap();

        let units = store.units().unwrap();
        assert_eq!(
            units,
            // Ordered by "env/company/entity": "5d11..." sorts before "company-a".
            vec![
                (
                    vendors.clone(),
                    UnitState {
                        cursor: None,
                        last_reconciled_at: Some(at(7, 0))
                    }
                ),
                (
                    custom.clone(),
                    UnitState {
                        cursor: Some(at(3, 0)),
                        last_reconciled_at: Some(at(9, 0))
                    }
                ),
            ]
        );
        // The entity with slashes comes back intact, not re-split.
        assert_eq!(units[1].0.entity, "contoso/app/v1.0/widgets");
    }

    // ---- runs ----------------------------------------------------------------

    fn a_run_from_begin_to_finish(b: &Backend) {
        let mut store = store_at(b, at(1, 0));
        let run = store.begin_run(bcq_state::RunKind::Incremental).unwrap();
        let r = &store.recent_runs(1).unwrap()[0];
        assert_eq!(
            (r.id, r.outcome.as_str(), r.kind.as_str(), r.ended_at),
            (run, "running", "incremental", None)
        );
        assert_eq!(r.started_at, at(1, 0));
        assert_eq!(r.counts, RunCounts::default());

        store.set_run_sync_job(run, "1f5c3e2a-exec").unwrap();
        let mut store = store.with_clock(Arc::new(|| at(61, 0)));
        let counts = RunCounts {
            added: 5,
            updated: 4,
            deleted: 3,
            unchanged: 2,
            failed: 1,
        };
        store
            .finish_run(run, bcq_state::RunOutcome::Succeeded, counts)
            .unwrap();

        let r = &store.recent_runs(5).unwrap()[0];
        assert_eq!(r.outcome, bcq_state::RunOutcome::Succeeded);
        assert_eq!(r.counts, counts);
        store
            .set_run_kind(run, bcq_state::RunKind::Reconcile)
            .unwrap();
        assert_eq!(
            store.recent_runs(1).unwrap()[0].kind,
            bcq_state::RunKind::Reconcile
        );
        assert_eq!(r.ended_at, Some(at(61, 0)));
        assert_eq!(r.sync_job_id.as_deref(), Some("1f5c3e2a-exec"));
    }

    fn finish_run_refuses_bad_outcomes_unknown_and_finished_runs(b: &Backend) {
        let mut store = b.open();
        let run = store.begin_run(bcq_state::RunKind::Full).unwrap();
        let err = store
            .finish_run(run, bcq_state::RunOutcome::Running, RunCounts::default())
            .unwrap_err();
        assert!(matches!(err, StateError::InvalidOutcome { .. }), "{err:?}");
        let err = store
            .finish_run(run + 1, bcq_state::RunOutcome::Failed, RunCounts::default())
            .unwrap_err();
        assert!(matches!(err, StateError::RunNotFound { .. }), "{err:?}");

        store
            .finish_run(run, bcq_state::RunOutcome::Failed, RunCounts::default())
            .unwrap();
        let err = store
            .finish_run(run, bcq_state::RunOutcome::Succeeded, RunCounts::default())
            .unwrap_err();
        assert!(
            matches!(&err, StateError::RunNotRunning { outcome, .. } if outcome == "failed"),
            "{err:?}"
        );
        assert_eq!(
            store.recent_runs(1).unwrap()[0].outcome,
            bcq_state::RunOutcome::Failed
        );
        let err = store.set_run_sync_job(run + 7, "x").unwrap_err();
        assert!(matches!(err, StateError::RunNotFound { run_id, .. } if run_id == run + 7));
    }

    fn failures_are_kept_per_run_in_order(b: &Backend) {
        let mut store = b.open();
        let r1 = store.begin_run(bcq_state::RunKind::Full).unwrap();
        let r2 = store.begin_run(bcq_state::RunKind::Full).unwrap();
        store
            .record_failure(r1, "inv-1.pdf", "ValidationException: document too large")
            .unwrap();
        store
            .record_failure(r2, "inv-2.pdf", "render failed")
            .unwrap();
        store
            .record_failure(r1, "inv-0.pdf", "access denied")
            .unwrap();

        assert_eq!(
            store.failures(r1).unwrap(),
            vec![
                (
                    "inv-1.pdf".into(),
                    "ValidationException: document too large".into()
                ),
                ("inv-0.pdf".into(), "access denied".into())
            ]
        );
        assert_eq!(store.failures(r2).unwrap().len(), 1);
        assert!(store.failures(99).unwrap().is_empty());
        let err = store.record_failure(99, "x", "y").unwrap_err();
        assert!(
            matches!(err, StateError::RunNotFound { run_id: 99, .. }),
            "{err:?}"
        );
    }

    fn recent_runs_are_newest_first_and_limited(b: &Backend) {
        let mut store = b.open();
        let kinds = [
            bcq_state::RunKind::Full,
            bcq_state::RunKind::Incremental,
            bcq_state::RunKind::Reconcile,
            bcq_state::RunKind::Mixed,
            bcq_state::RunKind::DryRun,
        ];
        let ids: Vec<i64> = kinds.iter().map(|k| store.begin_run(*k).unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let recent = store.recent_runs(3).unwrap();
        assert_eq!(
            recent.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![ids[4], ids[3], ids[2]]
        );
        assert_eq!(recent[0].kind, bcq_state::RunKind::DryRun);
        assert_eq!(store.recent_runs(0).unwrap(), vec![]);
        assert_eq!(store.recent_runs(usize::MAX).unwrap().len(), 5);
    }

    fn mark_interrupted_runs_touches_only_running_ones(b: &Backend) {
        let mut store = store_at(b, at(30, 0));
        let done = store.begin_run(bcq_state::RunKind::Full).unwrap();
        store
            .finish_run(done, bcq_state::RunOutcome::Succeeded, RunCounts::default())
            .unwrap();
        let left1 = store.begin_run(bcq_state::RunKind::Incremental).unwrap();
        let left2 = store.begin_run(bcq_state::RunKind::Incremental).unwrap();

        assert_eq!(store.mark_interrupted_runs().unwrap(), 2);
        assert_eq!(store.mark_interrupted_runs().unwrap(), 0);

        let runs = store.recent_runs(10).unwrap();
        let outcome = |id| runs.iter().find(|r| r.id == id).unwrap().outcome;
        assert_eq!(outcome(done), bcq_state::RunOutcome::Succeeded);
        assert_eq!(outcome(left1), bcq_state::RunOutcome::Interrupted);
        assert_eq!(outcome(left2), bcq_state::RunOutcome::Interrupted);
        assert_eq!(runs[0].ended_at, Some(at(30, 0)));
    }

    fn reset_forgets_everything_but_never_reuses_run_ids(b: &Backend) {
        let mut store = b.open();
        let c = unit("customers");
        let run = store.begin_run(bcq_state::RunKind::Full).unwrap();
        store.commit_acks(&c, run, &[ack("c-1", 1)]).unwrap();
        store.advance_cursor(&c, at(1, 0)).unwrap();
        store.record_failure(run, "c-2", "rejected").unwrap();

        store.reset().unwrap();

        assert_eq!(store.count_documents(None).unwrap(), 0);
        assert!(store.units().unwrap().is_empty());
        assert_eq!(store.unit(&c).unwrap(), UnitState::default());
        assert!(store.recent_runs(10).unwrap().is_empty());
        assert!(store.failures(run).unwrap().is_empty());
        // A cursor can start over after a reset.
        store.advance_cursor(&c, at(0, 0)).unwrap();
        assert!(store.begin_run(bcq_state::RunKind::Full).unwrap() > run);
    }

    // ---- replicas: leases, the shared run, BC's shared budget ---------------

    fn a_lease_is_one_holders_until_released_or_expired(b: &Backend) {
        let dir = TempDir::new("leases");
        let (mut one, mut two) = b.open_pair(&dir);
        let long = Duration::from_secs(30);
        assert!(one.try_lease("unit:a", "r1", long).unwrap());
        assert!(!two.try_lease("unit:a", "r2", long).unwrap(), "r1 holds it");
        assert!(one.try_lease("unit:a", "r1", long).unwrap(), "its holder renews it");
        let live = two.live_leases("unit:").unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!((live[0].name.as_str(), live[0].holder.as_str()), ("unit:a", "r1"));
        assert!(live[0].expires_in_ms > 20_000 && live[0].expires_in_ms <= 30_000, "{live:?}");
        assert!(!two.release_lease("unit:a", "r2").unwrap(), "not r2's to give back");
        assert!(one.release_lease("unit:a", "r1").unwrap());
        assert!(two.try_lease("unit:a", "r2", long).unwrap(), "given back: free");

        // Expiry: a holder that stops renewing loses it; renewal keeps it.
        assert!(one.try_lease("unit:b", "r1", Duration::from_millis(150)).unwrap());
        assert!(one.try_lease("unit:c", "r1", Duration::from_millis(150)).unwrap());
        assert!(!two.try_lease("unit:b", "r2", long).unwrap());
        std::thread::sleep(Duration::from_millis(300));
        assert!(two.try_lease("unit:b", "r2", long).unwrap(), "expired: taken over");
        assert_eq!(one.renew_leases("r1", long).unwrap(), 1, "r1 kept only unit:c");
        std::thread::sleep(Duration::from_millis(300));
        assert!(!two.try_lease("unit:c", "r2", long).unwrap(), "renewed: still r1's");
        assert_eq!(
            two.live_leases("unit:").unwrap().iter().map(|l| (l.name.clone(), l.holder.clone())).collect::<Vec<_>>(),
            vec![
                ("unit:a".to_string(), "r2".to_string()),
                ("unit:b".to_string(), "r2".to_string()),
                ("unit:c".to_string(), "r1".to_string()),
            ]
        );
        assert_eq!(one.release_leases_of("r1").unwrap(), 1);
        assert!(two.try_lease("unit:c", "r2", long).unwrap());

        // A time stamp any process moves: set over another live holder.
        one.set_lease("synced:a", "(r1)", long).unwrap();
        two.set_lease("synced:a", "(r2)", Duration::from_secs(5)).unwrap();
        let marks = one.live_leases("synced:").unwrap();
        assert_eq!(marks.len(), 1, "{marks:?}");
        assert_eq!(marks[0].holder, "(r2)");
        assert!(marks[0].expires_in_ms <= 5_000, "{marks:?}");
    }

    fn the_shared_run_is_recorded_and_cleared_only_by_its_id(b: &Backend) {
        let dir = TempDir::new("shared-run");
        let (mut one, mut two) = b.open_pair(&dir);
        assert_eq!(one.shared_run().unwrap(), None);
        let run = one.set_shared_run("job-1").unwrap();
        assert_eq!(two.shared_run().unwrap(), Some(run.clone()));
        assert!(run.opened_at_ms > 1_700_000_000_000, "{run:?}");
        two.clear_shared_run("job-0").unwrap();
        assert_eq!(one.shared_run().unwrap(), Some(run), "another job's close leaves it");
        two.clear_shared_run("job-1").unwrap();
        assert_eq!(one.shared_run().unwrap(), None);
    }

    fn bc_requests_are_counted_over_every_process(b: &Backend) {
        let dir = TempDir::new("bc-budget");
        let (mut one, mut two) = b.open_pair(&dir);
        let (window, ttl) = (Duration::from_secs(60), Duration::from_secs(30));
        let take = |s: &mut StateStore, env: &str| s.take_bc_slot(env, "r", 3, window, 2, ttl).unwrap();
        let granted = |slot: BcSlot| match slot {
            BcSlot::Granted(s) => s,
            BcSlot::Wait(d) => panic!("refused, wait {d:?}"),
        };
        let s1 = granted(take(&mut one, "production"));
        let _s2 = granted(take(&mut two, "production"));
        // Two in flight over both processes: a third waits briefly.
        match take(&mut one, "production") {
            BcSlot::Wait(d) => assert!(d < Duration::from_secs(1), "{d:?}"),
            g => panic!("a third request in flight was granted: {g:?}"),
        }
        // Another environment has its own budget.
        granted(take(&mut two, "sandbox"));
        one.give_back_bc_slot(&s1).unwrap();
        let _s3 = granted(take(&mut two, "production"));
        assert_eq!(one.bc_requests_in_window("production", window).unwrap(), 3);
        // The window's 3 requests are used: the next waits for the oldest
        // to leave the window, about 60 s.
        two.give_back_bc_slot(&_s3).unwrap();
        match take(&mut one, "production") {
            BcSlot::Wait(d) => assert!(d > Duration::from_secs(50) && d <= window, "{d:?}"),
            g => panic!("a fourth request in the window was granted: {g:?}"),
        }
        // A dead process's slot frees itself when its lease expires.
        let short = |s: &mut StateStore| s.take_bc_slot("uat", "dead", 100, window, 1, Duration::from_millis(100)).unwrap();
        granted(short(&mut one));
        assert!(matches!(short(&mut two), BcSlot::Wait(_)));
        std::thread::sleep(Duration::from_millis(250));
        granted(short(&mut two));
    }

    fn mark_interrupted_runs_spares_runs_of_live_replicas(b: &Backend) {
        let dir = TempDir::new("live-runs");
        let (mut one, mut two) = b.open_pair(&dir);
        let live = one.begin_run(bcq_state::RunKind::Incremental).unwrap();
        one.set_run_holder(live, "r1").unwrap();
        assert!(one.try_lease("replica:r1", "r1", Duration::from_secs(30)).unwrap());
        let dead = two.begin_run(bcq_state::RunKind::Incremental).unwrap();
        two.set_run_holder(dead, "r2").unwrap();
        // Other leases of a dead process (a BC request slot, a unit) do
        // not keep its run alive.
        assert!(two.try_lease("unit:x", "r2", Duration::from_secs(30)).unwrap());
        let old = two.begin_run(bcq_state::RunKind::Incremental).unwrap();
        // r2 holds no lease (it died), the old run has no holder.
        assert_eq!(two.mark_interrupted_runs().unwrap(), 2);
        let outcome = |s: &StateStore, id| s.recent_runs(10).unwrap().iter().find(|r| r.id == id).unwrap().outcome;
        assert_eq!(outcome(&two, live), bcq_state::RunOutcome::Running);
        assert_eq!(outcome(&two, dead), bcq_state::RunOutcome::Interrupted);
        assert_eq!(outcome(&two, old), bcq_state::RunOutcome::Interrupted);
        one.release_lease("replica:r1", "r1").unwrap();
        assert_eq!(two.mark_interrupted_runs().unwrap(), 1);
        assert_eq!(outcome(&one, live), bcq_state::RunOutcome::Interrupted);
    }
}

#[test]
fn failing_commit_deletes_deletes_nothing() {
    let dir = TempDir::new("delete-atomic");
    let path = dir.join("state.db");
    let mut store = StateStore::open(&path).unwrap();
    let run = store.begin_run(bcq_state::RunKind::Full).unwrap();
    let c = unit("customers");
    store
        .commit_acks(&c, run, &[ack("c-1", 1), ack("c-2", 1), ack("c-3", 1)])
        .unwrap();
    // Simulate a failure in the middle of the batch (disk full, I/O error)
    // with a trigger that aborts on the second delete.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "CREATE TRIGGER boom BEFORE DELETE ON documents WHEN old.doc_id = 'c-2'
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .unwrap();

    let err = store
        .commit_deletes(&["c-1".into(), "c-2".into(), "c-3".into()])
        .unwrap_err();
    assert!(err.to_string().contains("commit 3 deletes"), "{err}");
    assert_eq!(
        store.count_documents(None).unwrap(),
        3,
        "c-1 delete rolled back"
    );
}

// ---- units ---------------------------------------------------------------

#[test]
fn debug_output_names_the_file_only() {
    let store = StateStore::open_in_memory().unwrap();
    assert_eq!(store.path().to_str(), Some(":memory:"));
    assert!(format!("{store:?}").starts_with("StateStore { path: \":memory:\""));
}

// ---- PostgreSQL only ------------------------------------------------------

#[test]
fn postgres_state_survives_reopening_and_never_shows_the_password() {
    let schema = support::PgSchema::new();
    let with_password = schema.url.replace("postgres@", "postgres:hunter2@");
    let target = bcq_state::PgTarget::parse(&with_password).unwrap();
    {
        let mut store = StateStore::open_postgres(&target).unwrap();
        let run = store.begin_run(bcq_state::RunKind::Full).unwrap();
        store
            .commit_acks(&unit("customers"), run, &[ack("c-1", 1)])
            .unwrap();
        store.advance_cursor(&unit("customers"), at(5, 0)).unwrap();
        assert!(store.is_postgres());
        assert_eq!(
            store.path().to_str(),
            Some("postgres://postgres@127.0.0.1:5432/test")
        );
        assert!(!format!("{store:?} {target:?} {target}").contains("hunter2"));
    }
    let store = StateStore::open_postgres(&target).unwrap();
    assert_eq!(store.hash_of("c-1").unwrap(), Some(hash("c-1", 1)));
    assert_eq!(
        store.unit(&unit("customers")).unwrap().cursor,
        Some(at(5, 0))
    );
    assert_eq!(
        store.schema_version().unwrap(),
        bcq_state::schema::CURRENT_VERSION
    );
}

#[test]
fn postgres_sync_lock_is_held_by_one_process_and_released_on_drop() {
    let schema = support::PgSchema::new();
    let a = StateStore::open_postgres(&schema.target()).unwrap();
    let b = StateStore::open_postgres(&schema.target()).unwrap();
    let held = a.lock_for_sync().unwrap();
    let err = b.lock_for_sync().unwrap_err();
    assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
    // Another schema of the same database is another deployment: its lock
    // is its own.
    let other = support::PgSchema::new();
    let c = StateStore::open_postgres(&other.target()).unwrap();
    let _other_lock = c.lock_for_sync().unwrap();
    drop(held);
    // The holder's connection is closed on drop, which releases the lock;
    // the server notices at once, but allow it a moment.
    let mut retaken = None;
    for _ in 0..50 {
        if let Ok(lock) = b.lock_for_sync() {
            retaken = Some(lock);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(retaken.is_some(), "the lock was not released");
}

#[test]
fn postgres_replicas_share_the_sync_lock_that_a_reset_takes_alone() {
    let schema = support::PgSchema::new();
    let open = || StateStore::open_postgres(&schema.target()).unwrap();
    let (a, b, c) = (open(), open(), open());
    let shared_a = a.lock_for_shared_sync().unwrap();
    let _shared_b = b.lock_for_shared_sync().expect("replicas share the lock");
    let err = c.lock_for_sync().unwrap_err();
    assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
    drop(shared_a);
    drop(_shared_b);
    let mut exclusive = None;
    for _ in 0..50 {
        if let Ok(lock) = c.lock_for_sync() {
            exclusive = Some(lock);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(exclusive.is_some(), "the shared locks were not released");
    let err = a.lock_for_shared_sync().unwrap_err();
    assert!(
        matches!(err, StateError::Locked { .. }),
        "a reset excludes replicas: {err:?}"
    );
}

#[test]
fn state_copies_from_sqlite_into_postgres_and_back() {
    let dir = TempDir::new("copy");
    let mut file = StateStore::open(&dir.join("state.db"))
        .unwrap()
        .with_clock(Arc::new(|| at(7, 0)));
    let c = unit("customers");
    let run = file.begin_run(bcq_state::RunKind::Full).unwrap();
    file.commit_acks(&c, run, &[ack("c-1", 1), ack("c-2", 1)])
        .unwrap();
    file.advance_cursor(&c, at(3, 0)).unwrap();
    file.record_failure(run, "c-3", "rejected").unwrap();
    file.finish_run(
        run,
        bcq_state::RunOutcome::Succeeded,
        RunCounts {
            added: 2,
            ..RunCounts::default()
        },
    )
    .unwrap();
    file.remember_companies("production", &[("c1".into(), "CRONUS".into())])
        .unwrap();

    let schema = support::PgSchema::new();
    let mut pg = StateStore::open_postgres(&schema.target()).unwrap();
    // documents, unit, run, failure, company
    assert_eq!(file.copy_to(&mut pg).unwrap(), 6);
    assert_eq!(pg.hash_of("c-2").unwrap(), Some(hash("c-2", 1)));
    assert_eq!(pg.unit(&c).unwrap().cursor, Some(at(3, 0)));
    assert_eq!(pg.recent_runs(5).unwrap(), file.recent_runs(5).unwrap());
    assert_eq!(pg.failures(run).unwrap(), file.failures(run).unwrap());
    // New runs continue after the copied ids.
    assert!(pg.begin_run(bcq_state::RunKind::Incremental).unwrap() > run);
    // A second copy into a store that holds data is refused.
    let err = file.copy_to(&mut pg).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");

    // And back, through the dry-run snapshot.
    let snap = dir.join("snapshot.db");
    pg.snapshot_to(&snap).unwrap();
    let back = StateStore::open(&snap).unwrap();
    assert_eq!(
        back.doc_ids_of_unit(&c).unwrap(),
        pg.doc_ids_of_unit(&c).unwrap()
    );
    assert_eq!(back.recent_runs(5).unwrap().len(), 2);
}

#[test]
fn postgres_written_by_a_newer_bcq_is_refused_untouched() {
    let schema = support::PgSchema::new();
    drop(StateStore::open_postgres(&schema.target()).unwrap());
    support::pg_admin(&format!(
        "UPDATE {}.bcq_schema SET version = 99",
        schema.name()
    ));
    let err = StateStore::open_postgres(&schema.target()).unwrap_err();
    assert!(
        matches!(err, StateError::SchemaTooNew { found: 99, .. }),
        "{err:?}"
    );
}

#[test]
fn replicas_opening_a_new_postgres_database_at_once_migrate_it_once() {
    let schema = support::PgSchema::new();
    let target = schema.target();
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let target = target.clone();
            std::thread::spawn(move || StateStore::open_postgres(&target).map(drop))
        })
        .collect();
    for handle in opened {
        handle.join().unwrap().unwrap();
    }
}

#[test]
fn an_unreachable_postgres_is_named_in_the_error() {
    let target = bcq_state::PgTarget::parse(
        "postgres://bcq:pw@127.0.0.1:1/state?sslmode=disable&connect_timeout=2",
    )
    .unwrap();
    let err = StateStore::open_postgres(&target).unwrap_err();
    let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(text.contains("postgres://bcq@127.0.0.1:1/state"), "{text}");
    assert!(text.contains("cannot connect to PostgreSQL"), "{text}");
    assert!(!text.contains("pw"), "{text}");
}
