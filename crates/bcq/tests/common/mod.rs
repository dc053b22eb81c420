//! Helpers of the end-to-end tests: the emulators in-process, the real
//! `bcq` binary in a child process configured with the sample's variables.

#![allow(dead_code)]

pub mod proxy;

use bcq::demo::Emulators;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A Q emulator that does not throttle the tests and indexes at once.
pub fn q_fast() -> q_sim::QSimConfig {
    let mut q = q_sim::QSimConfig::default();
    q.rates.insert("BatchPutDocument".into(), 5000.0);
    q.rates.insert("BatchDeleteDocument".into(), 5000.0);
    q.indexing_delay = std::time::Duration::from_millis(5);
    q
}

/// A BC emulator with `invoices` sales invoices per company.
pub fn bc(invoices: u64) -> bc_sim::SimConfig {
    bc_sim::SimConfig {
        invoices_per_company: invoices,
        ..bc_sim::SimConfig::default()
    }
}

/// A test world: both emulators and a scratch directory for state.
pub struct World {
    pub emu: Emulators,
    pub dir: tempfile::TempDir,
    pub env: String,
}

impl World {
    /// Starts the emulators and declares bcq's attributes on the index,
    /// as a user does once with `bcq index-schema --apply`.
    pub async fn start(bc: bc_sim::SimConfig, q: q_sim::QSimConfig) -> World {
        let w = World {
            emu: Emulators::start_with(bc, q).await.expect("emulators start"),
            dir: tempfile::tempdir().unwrap(),
            env: "production".into(),
        };
        let r = w.bcq(&["index-schema", "--apply"], &[]).await;
        r.assert_ok();
        assert!(r.stdout.contains("✔ declared"), "{}", r.stdout);
        w
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    pub fn company_id(&self) -> String {
        self.emu.bc.companies(&self.env)[0].id.to_string()
    }

    /// The child process environment: exactly the sample's variables, the
    /// emulator overrides and static AWS credentials; nothing inherited.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bcq"));
        c.env_clear();
        c.env("PATH", std::env::var("PATH").unwrap_or_default());
        c.env("HOME", self.dir.path());
        c.current_dir(self.dir.path());
        let names = [
            ("q.application_id", "Q_APPLICATION_ID"),
            ("q.index_id", "Q_INDEX_ID"),
            ("q.data_source_id", "Q_DATASOURCE_ID"),
            ("q.endpoint_url", "AWS_ENDPOINT_URL_QBUSINESS"),
            ("q.region", "AWS_REGION"),
            ("bc.client_id", "DYNAMICS_CLIENT_ID"),
            ("bc.client_secret", "DYNAMICS_SECRET"),
            ("bc.authority", "DYNAMICS_AUTHORITY"),
            ("bc.company_id", "DYNAMICS_COMPANY_ID"),
            ("bc.environment", "BC_ENVIRONMENT"),
            ("bc.api_base_url", "BC_API_BASE_URL"),
        ];
        for (k, v) in self.emu.settings(&self.env) {
            let var = names
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| *v)
                .unwrap();
            c.env(var, v);
        }
        c.env(
            "DYNAMICS_SCOPE",
            "https://api.businesscentral.dynamics.com/.default",
        );
        let qc = self.emu.q.config();
        c.env("AWS_ACCESS_KEY_ID", &qc.access_key_id);
        c.env("AWS_SECRET_ACCESS_KEY", &qc.secret_access_key);
        c.env("AWS_EC2_METADATA_DISABLED", "true");
        c.env("BCQ_STATE_PATH", self.state_path());
        c.args(args);
        c
    }

    /// Runs `bcq` with extra environment, off the async runtime.
    pub async fn bcq(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut c = self.command(args);
        for (k, v) in extra {
            c.env(k, v);
        }
        let out = tokio::task::spawn_blocking(move || c.output().expect("bcq runs"))
            .await
            .unwrap();
        Run::from(out)
    }

    /// Documents Q holds, once indexing settled.
    pub async fn q_documents(&self) -> Vec<Value> {
        let qc = self.emu.q.config();
        let url = format!(
            "{}/_sim/documents?applicationId={}&indexId={}",
            self.emu.q.endpoint(),
            qc.application_id,
            qc.index_id
        );
        let mut last = Vec::new();
        for _ in 0..200 {
            let v: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
            last = v["documents"].as_array().cloned().unwrap_or_default();
            let settled = last.iter().all(|d| {
                matches!(
                    d["status"].as_str(),
                    Some("INDEXED" | "UPDATED" | "FAILED" | "DOCUMENT_FAILED_TO_INDEX")
                )
            });
            if settled {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        last
    }

    /// An aws-sdk-qbusiness client for the Q emulator, as a user's would be.
    pub async fn q_sdk(&self) -> aws_sdk_qbusiness::Client {
        let qc = self.emu.q.config();
        let creds = aws_credential_types::Credentials::from_keys(
            qc.access_key_id.clone(),
            qc.secret_access_key.clone(),
            None,
        );
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .credentials_provider(creds)
            .region(aws_config::Region::new(qc.region.clone()))
            .endpoint_url(self.emu.q.endpoint())
            .load()
            .await;
        aws_sdk_qbusiness::Client::new(&sdk)
    }

    /// Sync jobs Q knows.
    pub async fn q_jobs(&self) -> Value {
        reqwest::get(format!("{}/_sim/jobs", self.emu.q.endpoint()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// POSTs a fault to an emulator's control API.
    pub async fn fault(&self, base: &str, body: Value) {
        let r = reqwest::Client::new()
            .post(format!("{base}/_sim/faults"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "fault refused: {}",
            r.text().await.unwrap()
        );
    }

    /// A BC access token from the emulator, as any OAuth client gets it.
    pub async fn bc_token(&self) -> String {
        let b = self.emu.bc.config();
        let r: Value = reqwest::Client::new()
            .post(format!("{}/oauth2/v2.0/token", self.emu.bc.authority()))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", b.client_id.as_str()),
                ("client_secret", b.client_secret.as_str()),
                ("scope", "https://api.businesscentral.dynamics.com/.default"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["access_token"].as_str().unwrap().to_string()
    }

    /// Every sales invoice of the first company with its lines, read from
    /// the BC emulator over HTTP, following nextLinks.
    pub async fn bc_invoices(&self) -> Vec<Value> {
        self.bc_records("salesInvoices?$expand=salesInvoiceLines")
            .await
    }

    /// The ids of every record of `entity` in the first company, lower-case.
    pub async fn bc_ids(&self, entity: &str) -> std::collections::BTreeSet<String> {
        self.bc_records(entity)
            .await
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_ascii_lowercase())
            .collect()
    }

    /// Every record of `query` (an entity set and options) in the first
    /// company, following nextLinks.
    pub async fn bc_records(&self, query: &str) -> Vec<Value> {
        let token = self.bc_token().await;
        let mut url = Some(format!(
            "{}/companies({})/{query}",
            self.emu.bc.api_root(&self.env),
            self.company_id()
        ));
        let mut all = Vec::new();
        let client = reqwest::Client::new();
        while let Some(u) = url {
            let page: Value = client
                .get(&u)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            all.extend(page["value"].as_array().cloned().unwrap_or_default());
            url = page["@odata.nextLink"].as_str().map(str::to_string);
        }
        all
    }
}

impl World {
    /// The emulator's control API for records of the first company.
    fn records_url(&self, entity: &str) -> String {
        format!(
            "{}/_sim/records/{}/{}/{entity}",
            self.emu.bc.base_url(),
            self.env,
            self.company_id()
        )
    }

    /// Sends one control-API request to the BC emulator, asserts it was
    /// accepted, and returns its JSON body (`Null` when it has none).
    async fn bc_control(&self, method: reqwest::Method, url: String, body: Option<Value>) -> Value {
        let mut req = reqwest::Client::new().request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(
            status.is_success(),
            "{method} {url} refused ({status}): {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Changes fields of a record, as a BC user would (moves lastModifiedDateTime).
    pub async fn bc_update(&self, entity: &str, id: &str, fields: Value) -> Value {
        let url = format!("{}/{id}", self.records_url(entity));
        self.bc_control(reqwest::Method::PATCH, url, Some(fields))
            .await
    }

    /// Edits one line of a sales invoice without moving the header's timestamp.
    pub async fn bc_update_line(&self, invoice_id: &str, sequence: i64, fields: Value) {
        let url = format!(
            "{}/{invoice_id}/lines/{sequence}",
            self.records_url("salesInvoices")
        );
        self.bc_control(reqwest::Method::PATCH, url, Some(fields))
            .await;
    }

    /// Deletes a record.
    pub async fn bc_delete(&self, entity: &str, id: &str) {
        let url = format!("{}/{id}", self.records_url(entity));
        self.bc_control(reqwest::Method::DELETE, url, None).await;
    }

    /// Uploads a new version of an attachment's file, as a BC user would
    /// (its byteSize and lastModifiedDateTime follow).
    pub async fn bc_upload_attachment(&self, id: &str, bytes: Vec<u8>) {
        let url = format!("{}/{id}/content", self.records_url("documentAttachments"));
        let r = reqwest::Client::new()
            .put(&url)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "PUT {url}: {}", r.status());
    }

    /// Creates a record.
    pub async fn bc_create(&self, entity: &str, fields: Value) -> Value {
        self.bc_control(
            reqwest::Method::POST,
            self.records_url(entity),
            Some(fields),
        )
        .await
    }

    /// Q's request counters.
    pub async fn q_counts(&self) -> Value {
        reqwest::get(format!("{}/_sim/counts", self.emu.q.endpoint()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The Q document id of a sales invoice.
    /// Q's own answer (CheckDocumentAccess): may `user` read `doc`?
    pub async fn has_access(&self, user: &str, doc: &str) -> bool {
        let qc = self.emu.q.config();
        self.q_sdk()
            .await
            .check_document_access()
            .application_id(&qc.application_id)
            .index_id(&qc.index_id)
            .user_id(user)
            .document_id(doc)
            .data_source_id(&qc.data_source_id)
            .send()
            .await
            .unwrap()
            .has_access()
            .unwrap_or(false)
    }

    pub fn invoice_doc_id(&self, bc_id: &str) -> String {
        format!(
            "bc/{}/{}/salesInvoices/{}",
            self.env,
            self.company_id().to_ascii_lowercase(),
            bc_id.to_ascii_lowercase()
        )
    }

    /// Asserts that Q holds exactly BC's invoices, each at its latest
    /// version: same ids, titles that name the current number and
    /// customer, and `_last_updated_at` equal to BC's `lastModifiedDateTime`.
    pub async fn assert_q_equals_bc(&self) {
        let invoices = self.bc_invoices().await;
        let docs = self.q_documents().await;
        let mut q: std::collections::HashMap<String, Value> = docs
            .into_iter()
            .map(|d| (d["id"].as_str().unwrap().to_string(), d))
            .collect();
        for inv in &invoices {
            let id = self.invoice_doc_id(inv["id"].as_str().unwrap());
            let d = q
                .remove(&id)
                .unwrap_or_else(|| panic!("{id} is in BC but not in Q"));
            let number = inv["number"].as_str().unwrap();
            assert!(
                d["title"].as_str().unwrap().contains(number),
                "{id}: stale title {}",
                d["title"]
            );
            let bc_time =
                chrono::DateTime::parse_from_rfc3339(inv["lastModifiedDateTime"].as_str().unwrap())
                    .unwrap()
                    .timestamp();
            let q_time = match &d["attributes"]["_last_updated_at"] {
                Value::String(s) => chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp(),
                Value::Number(n) => n.as_f64().unwrap() as i64,
                other => panic!("{id}: _last_updated_at is {other}"),
            };
            assert_eq!(q_time, bc_time, "{id}: Q holds an older version");
            assert!(
                matches!(d["status"].as_str(), Some("INDEXED" | "UPDATED")),
                "{id}: {} {:?}",
                d["status"],
                d["error"]
            );
        }
        let extra: Vec<&String> = q.keys().collect();
        assert!(
            extra.is_empty(),
            "Q holds documents BC does not have: {extra:?}"
        );
    }
}

/// A finished `bcq` process.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "bcq failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn both(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl World {
    /// Removes every fault queued on an emulator (`DELETE /_sim/faults`).
    pub async fn clear_faults(&self, base: &str) {
        let r = reqwest::Client::new()
            .delete(format!("{base}/_sim/faults"))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "faults not cleared: {}",
            r.text().await.unwrap()
        );
    }

    /// Stops Q's running sync jobs from outside bcq, as a console user
    /// would (`POST /_sim/jobs/stop-running`); answers the stopped ids.
    pub async fn stop_running_jobs(&self) -> Vec<String> {
        let r: Value = reqwest::Client::new()
            .post(format!("{}/_sim/jobs/stop-running", self.emu.q.endpoint()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["stopped"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Starts a sync job on the emulator's data source, as another client
/// would; returns its execution id.
pub async fn start_q_job(client: &aws_sdk_qbusiness::Client, qc: &q_sim::QSimConfig) -> String {
    client
        .start_data_source_sync_job()
        .application_id(&qc.application_id)
        .index_id(&qc.index_id)
        .data_source_id(&qc.data_source_id)
        .send()
        .await
        .unwrap()
        .execution_id()
        .unwrap()
        .to_string()
}

/// Stops the running sync job of the emulator's data source.
pub async fn stop_q_job(client: &aws_sdk_qbusiness::Client, qc: &q_sim::QSimConfig) {
    client
        .stop_data_source_sync_job()
        .application_id(&qc.application_id)
        .index_id(&qc.index_id)
        .data_source_id(&qc.data_source_id)
        .send()
        .await
        .unwrap();
}

/// An S3 client for moto at `url`: path-style, moto's keys.
pub fn moto_s3(url: &str) -> aws_sdk_s3::Client {
    let creds = aws_credential_types::Credentials::from_keys("moto", "moto", None);
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .credentials_provider(creds)
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The objects bcq staged in `bucket` (under `bcq/`): key and size.
pub async fn staged(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, i64)> {
    s3.list_objects_v2()
        .bucket(bucket)
        .prefix("bcq/")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .map(|o| {
            (
                o.key().unwrap_or_default().to_string(),
                o.size().unwrap_or_default(),
            )
        })
        .collect()
}

/// Borrows owned environment pairs for [`World::bcq`].
pub fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

impl World {
    /// The environment of a run into the Bedrock emulator instead of Q:
    /// the destination, its ids, endpoints and the emulator's credentials.
    pub fn bedrock_env(&self) -> Vec<(&'static str, String)> {
        let c = self.emu.bedrock.config();
        vec![
            ("BCQ_DESTINATION", "bedrock-kb".into()),
            ("BEDROCK_KNOWLEDGE_BASE_ID", c.knowledge_base_id.clone()),
            ("BEDROCK_DATA_SOURCE_ID", c.data_source_id.clone()),
            (
                "AWS_ENDPOINT_URL_BEDROCK_AGENT",
                self.emu.bedrock.endpoint(),
            ),
            (
                "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME",
                self.emu.bedrock.endpoint(),
            ),
            ("BCQ_BEDROCK_REGION", c.region.clone()),
            ("AWS_ACCESS_KEY_ID", c.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", c.secret_access_key.clone()),
        ]
    }

    /// Writes `bcq.toml` (access rules, groups) where `bcq` runs.
    pub fn write_config(&self, toml: &str) {
        std::fs::write(self.dir.path().join("bcq.toml"), toml).unwrap();
    }

    /// The Bedrock emulator's documents once ingestion settled.
    pub async fn kb_documents(&self) -> Vec<Value> {
        let url = format!("{}/_sim/documents", self.emu.bedrock.endpoint());
        let mut last = Vec::new();
        for _ in 0..200 {
            let v: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
            last = v["documents"].as_array().cloned().unwrap_or_default();
            let settled = last.iter().all(|d| {
                !matches!(
                    d["status"].as_str(),
                    Some(
                        "PENDING" | "STARTING" | "IN_PROGRESS" | "DELETING" | "DELETE_IN_PROGRESS"
                    )
                )
            });
            if settled {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        last
    }

    /// The document ids `user` gets from Bedrock's Retrieve for `question`,
    /// through the official runtime SDK with only an endpoint override.
    pub async fn retrieve(&self, user: &str, question: &str) -> Vec<String> {
        use aws_sdk_bedrockagentruntime::types::{
            KnowledgeBaseQuery, KnowledgeBaseRetrievalConfiguration,
            KnowledgeBaseVectorSearchConfiguration, UserContext,
        };
        let c = self.emu.bedrock.config();
        let creds = aws_credential_types::Credentials::from_keys(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            None,
        );
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .credentials_provider(creds)
            .region(aws_config::Region::new(c.region.clone()))
            .endpoint_url(self.emu.bedrock.endpoint())
            .load()
            .await;
        let out = aws_sdk_bedrockagentruntime::Client::new(&sdk)
            .retrieve()
            .knowledge_base_id(&c.knowledge_base_id)
            .retrieval_query(KnowledgeBaseQuery::builder().text(question).build())
            .retrieval_configuration(
                KnowledgeBaseRetrievalConfiguration::builder()
                    .vector_search_configuration(
                        KnowledgeBaseVectorSearchConfiguration::builder()
                            .number_of_results(100)
                            .build(),
                    )
                    .build(),
            )
            .user_context(UserContext::builder().user_id(user).build().unwrap())
            .send()
            .await
            .unwrap();
        out.retrieval_results()
            .iter()
            .filter_map(|r| {
                r.location()?
                    .custom_document_location()?
                    .id()
                    .map(str::to_string)
            })
            .collect()
    }
}
