//! End-to-end: the state in PostgreSQL (`BCQ_STATE_URL`), through the real
//! binary, against the local PostgreSQL server (a schema of its own per
//! test): nothing is written locally, a lost state directory costs
//! nothing, a state file moves into PostgreSQL without re-pushing, and a
//! bad URL is named without its password.

mod common;

use bcq_state::testing::PgSchema;
use common::{World, bc, q_fast};
use serde_json::Value;

fn put_count(counts: &Value) -> u64 {
    counts["documents_put"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_in_postgres_survives_losing_the_local_directory() {
    let w = World::start(bc(300), q_fast()).await;
    let schema = PgSchema::new();
    let url = [("BCQ_STATE_URL", schema.url.as_str())];
    w.bcq(&["sync", "--no-progress"], &url).await.assert_ok();
    let pushed = put_count(&w.q_counts().await);
    assert!(pushed >= 300, "{pushed}");
    assert!(
        !w.state_path().exists(),
        "with BCQ_STATE_URL nothing is written to the state file"
    );

    // A new container: another working directory, no state file, the same
    // database. Nothing is pushed again.
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = elsewhere.path().join("state.db");
    let run = w
        .bcq(
            &["sync", "--no-progress"],
            &[url[0], ("BCQ_STATE_PATH", moved.to_str().unwrap())],
        )
        .await;
    run.assert_ok();
    assert!(
        run.stdout.contains("added               0"),
        "{}",
        run.stdout
    );
    assert_eq!(put_count(&w.q_counts().await), pushed, "nothing re-pushed");
    assert!(!moved.exists());

    let status = w.bcq(&["status"], &url).await;
    status.assert_ok();
    assert!(
        status
            .stdout
            .contains("state in PostgreSQL postgres://postgres@127.0.0.1:5432/test"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("succeeded"), "{}", status.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_copied_into_postgres_continues_without_pushing_again() {
    let w = World::start(bc(200), q_fast()).await;
    w.bcq(&["sync", "--no-progress"], &[]).await.assert_ok();
    let pushed = put_count(&w.q_counts().await);
    let schema = PgSchema::new();
    let url = [("BCQ_STATE_URL", schema.url.as_str())];
    let file = w.state_path();
    let copy = w
        .bcq(&["copy-state", "--from", file.to_str().unwrap()], &url)
        .await;
    copy.assert_ok();
    assert!(copy.stdout.contains("copied"), "{}", copy.stdout);

    let run = w.bcq(&["sync", "--no-progress"], &url).await;
    run.assert_ok();
    assert_eq!(put_count(&w.q_counts().await), pushed, "nothing re-pushed");

    // Copying again would mix two histories: refused, nothing changed.
    let again = w
        .bcq(&["copy-state", "--from", file.to_str().unwrap()], &url)
        .await;
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("not empty"), "{}", again.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_state_url_is_a_configuration_error_that_hides_the_password() {
    let w = World::start(bc(5), q_fast()).await;
    for (url, says) in [
        ("mysql://bcq:Pa55word@db/state", "scheme"),
        (
            "postgres://bcq:Pa55word@db/state?sslmode=always",
            "sslmode=always",
        ),
    ] {
        let run = w
            .bcq(&["sync", "--no-progress"], &[("BCQ_STATE_URL", url)])
            .await;
        assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("BCQ_STATE_URL"), "{}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert!(!run.stderr.contains("Pa55word"), "{}", run.stderr);
    }
    // A server that does not answer fails the run (exit 1) naming it.
    let run = w
        .bcq(
            &["sync", "--no-progress"],
            &[(
                "BCQ_STATE_URL",
                "postgres://bcq:Pa55word@127.0.0.1:1/state?sslmode=disable&connect_timeout=2",
            )],
        )
        .await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("postgres://bcq@127.0.0.1:1/state"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Pa55word"), "{}", run.stderr);
    assert_eq!(put_count(&w.q_counts().await), 0);
}
