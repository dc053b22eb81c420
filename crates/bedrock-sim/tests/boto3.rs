//! boto3's `bedrock-agent` and `bedrock-agent-runtime` clients, given only
//! `endpoint_url`, drive the emulator (`tests/boto3_bedrock.py`): limits,
//! errors, ingestion statuses and ACL filtering on Retrieve. The Python is
//! `$BCQ_TEST_PYTHON` (default `python3`); `scripts/test` installs the
//! pinned boto3 and names it there. A boto3 without the operations fails
//! this test, never skips it.

mod common;

use common::*;

#[tokio::test]
async fn boto3_drives_both_services() {
    let sim = start(cfg()).await;
    let c = sim.config().clone();
    let python = std::env::var("BCQ_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/boto3_bedrock.py");
    let endpoint = sim.endpoint();
    let out = tokio::process::Command::new(&python)
        .arg(script)
        .env("BEDROCK_ENDPOINT", &endpoint)
        .env("AWS_ACCESS_KEY_ID", &c.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &c.secret_access_key)
        .env("AWS_DEFAULT_REGION", &c.region)
        .env("BEDROCK_KNOWLEDGE_BASE_ID", &c.knowledge_base_id)
        .env("BEDROCK_DATA_SOURCE_ID", &c.data_source_id)
        // Nothing from the developer's AWS setup may reach the clients.
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("{python} could not run ({e}): run the tests with scripts/test, which installs boto3")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed under {python} ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("boto3: all checks passed"), "{stdout}");
    // The script's calls reached the emulator.
    let counts = sim.control().counts();
    for op in [
        "IngestKnowledgeBaseDocuments",
        "GetKnowledgeBaseDocuments",
        "Retrieve",
        "DeleteKnowledgeBaseDocuments",
    ] {
        assert!(
            counts.by_operation.get(op).copied().unwrap_or(0) > 0,
            "{op}: {counts:?}"
        );
    }
    sim.stop().await;
}
