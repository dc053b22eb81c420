//! The deployment files under `deploy/` are valid for the tools that read
//! them and say what bcq really does. The systemd unit passes
//! `systemd-analyze verify` and its hardening keeps `systemd-analyze
//! security` at "OK" (exposure ≤ 2.0 of 10). The container image and the
//! cluster deployments: the Dockerfile's final stage is exactly the tree
//! `scripts/image-root` assembles, and the manifests under `deploy/k8s` and
//! `deploy/ecs` run it as the non-root user of that tree, on a read-only
//! root, probe routes `bcq serve` serves, on the port README documents, with
//! settings README documents and no real secret in the repository.
//!
//! Facts are read from their sources at test time (README's settings table,
//! the routes in `src/serve/http.rs`), so a change there that the
//! deployment files do not follow fails here.
//!
//! The last test runs the image's tree for real: a statically linked bcq
//! (`BCQ_STATIC_BIN`, which `scripts/test` builds) in the tree
//! `scripts/image-root` assembles, as the only root (`chroot`), as the
//! image's user, with the image's environment, running `bcq demo`.

use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

// ---------------------------------------------------------------------------
// What bcq documents and serves, read from the repository.

/// The rows of README's settings table (`| variable | file key | meaning |`).
fn readme_settings_rows() -> Vec<String> {
    let readme = read("README.md");
    let rows: Vec<String> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| variable | file key | meaning |"))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // the header and its |---| line
        .map(str::to_string)
        .collect();
    assert!(rows.len() > 20, "README's settings table not found");
    rows
}

/// Every variable README's settings table names in backticks (the first
/// column, and the standard ones it refers to, such as `AWS_REGION`).
fn documented_variables() -> BTreeSet<String> {
    let is_variable = |s: &str| {
        !s.is_empty()
            && s.chars().next().unwrap().is_ascii_uppercase()
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    };
    readme_settings_rows()
        .iter()
        .flat_map(|row| {
            row.split('`')
                .skip(1)
                .step_by(2) // the backticked parts
                .filter(|s| is_variable(s))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The settings table's row of `var`.
fn readme_row(var: &str) -> String {
    let start = format!("| `{var}` |");
    readme_settings_rows()
        .into_iter()
        .find(|r| r.starts_with(&start))
        .unwrap_or_else(|| panic!("README's settings table has no row for {var}"))
}

/// The port of `bcq serve`'s default listen address, from README
/// (BCQ_LISTEN ... default `127.0.0.1:8080`).
fn readme_port() -> u16 {
    let row = readme_row("BCQ_LISTEN");
    let addr = row
        .split("default `")
        .nth(1)
        .and_then(|s| s.split('`').next())
        .unwrap_or_else(|| panic!("no default address in {row}"));
    addr.parse::<SocketAddr>()
        .unwrap_or_else(|e| panic!("{addr}: {e}"))
        .port()
}

/// README's default of BCQ_GRACE_SECONDS (20).
fn readme_grace_seconds() -> u64 {
    let row = readme_row("BCQ_GRACE_SECONDS");
    let digits: String = row
        .split("default ")
        .nth(1)
        .unwrap_or_else(|| panic!("no default in {row}"))
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

/// The GET routes of `bcq serve`: `.route("/x", get(` in src/serve/http.rs.
fn get_routes() -> BTreeSet<String> {
    let src = read("crates/bcq/src/serve/http.rs");
    let routes: BTreeSet<String> = src
        .split(".route(\"")
        .skip(1)
        .filter_map(|rest| {
            let (path, after) = rest.split_once('"')?;
            after
                .trim_start_matches(',')
                .trim_start()
                .starts_with("get(")
                .then(|| path.to_string())
        })
        .collect();
    assert!(
        routes.contains("/healthz"),
        "routes read from http.rs: {routes:?}"
    );
    routes
}

/// How long /readyz may wait for a BC token: READY_TIMEOUT in src/serve/mod.rs.
fn ready_timeout_seconds() -> u64 {
    let src = read("crates/bcq/src/serve/mod.rs");
    let line = src
        .lines()
        .find(|l| l.contains("const READY_TIMEOUT"))
        .expect("READY_TIMEOUT in src/serve/mod.rs");
    let n = line
        .split("from_secs(")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap_or_else(|| panic!("not in whole seconds: {line}"));
    n.parse().unwrap()
}

/// bcq accepts this command line: its arguments, then --help, which clap
/// reaches only after every argument before it parsed (an unknown one
/// exits 2 first).
fn assert_bcq_accepts(args: &[String], whose: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_bcq"))
        .args(args)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{whose}: bcq {args:?} is not a command line bcq accepts:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_documented(names: &BTreeSet<String>, whose: &str) {
    let documented = documented_variables();
    let missing: Vec<&String> = names.iter().filter(|n| !documented.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "{whose} sets {missing:?}, which README's settings table does not document: \
         add a row there (or use a documented setting)"
    );
}

/// "http://127.0.0.1:8080/healthz" -> (8080, "/healthz").
fn port_and_path(url: &str) -> (u16, String) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{url}: not http://"));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let port = authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("{url}: no port"));
    (port, format!("/{path}"))
}

// ---------------------------------------------------------------------------
// The image: the Dockerfile and scripts/image-root.

/// The image's user, from the Dockerfile's final stage (`USER 10001:10001`).
const IMAGE_UID: u32 = 10001;
const IMAGE_GID: u32 = 10001;

/// One instruction of the Dockerfile: its keyword and the rest of its line,
/// continuation lines joined, comment lines dropped (as Docker does).
#[derive(Debug, Clone)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The stages of the Dockerfile, each from its FROM.
fn dockerfile_stages() -> Vec<Vec<Instruction>> {
    let text = read("Dockerfile");
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(t);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    assert!(
        current.trim().is_empty(),
        "Dockerfile ends inside a continued line"
    );
    let mut stages: Vec<Vec<Instruction>> = Vec::new();
    for l in logical.iter().filter(|l| !l.trim().is_empty()) {
        let l = l.trim();
        let (keyword, args) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
        let ins = Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_string(),
        };
        if ins.keyword == "FROM" {
            stages.push(vec![ins]);
        } else if let Some(stage) = stages.last_mut() {
            stage.push(ins);
        } // else: ARG before the first FROM, global
    }
    assert!(stages.len() >= 2, "the Dockerfile is not multi-stage");
    stages
}

fn only<'a>(stage: &'a [Instruction], keyword: &str) -> &'a Instruction {
    let found: Vec<&Instruction> = stage.iter().filter(|i| i.keyword == keyword).collect();
    assert_eq!(
        found.len(),
        1,
        "the final stage must have one {keyword}: {stage:#?}"
    );
    found[0]
}

/// The final stage's `ENV K=V K2=V2` as a map.
fn image_env(final_stage: &[Instruction]) -> BTreeMap<String, String> {
    only(final_stage, "ENV")
        .args
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("ENV {kv}: expected KEY=VALUE"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// An exec-form argument list: `["a", "b"]`.
fn exec_form(args: &str, whose: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("{whose} {args}: not exec form: {e}"))
}

/// The command of the final stage's HEALTHCHECK (after its options and CMD).
fn healthcheck_command(final_stage: &[Instruction]) -> Vec<String> {
    let hc = &only(final_stage, "HEALTHCHECK").args;
    let (_, cmd) = hc
        .split_once("CMD ")
        .unwrap_or_else(|| panic!("HEALTHCHECK {hc}: no CMD"));
    exec_form(cmd.trim(), "HEALTHCHECK CMD")
}

/// What scripts/image-root must produce: path -> (kind, mode).
fn expected_tree() -> BTreeMap<&'static str, (char, u32)> {
    BTreeMap::from([
        ("etc", ('d', 0o755)),
        ("etc/group", ('f', 0o644)),
        ("etc/passwd", ('f', 0o644)),
        ("etc/ssl", ('d', 0o755)),
        ("etc/ssl/certs", ('d', 0o755)),
        ("etc/ssl/certs/ca-certificates.crt", ('f', 0o644)),
        ("usr", ('d', 0o755)),
        ("usr/local", ('d', 0o755)),
        ("usr/local/bin", ('d', 0o755)),
        ("usr/local/bin/bcq", ('f', 0o755)),
        ("var", ('d', 0o755)),
        ("var/lib", ('d', 0o755)),
        ("var/lib/bcq", ('d', 0o700)),
    ])
}

/// Every entry under `root`: relative path -> (kind, mode, uid, gid).
fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (char, u32, u32, u32)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let kind = if meta.file_type().is_symlink() {
            'l'
        } else if meta.is_dir() {
            'd'
        } else {
            'f'
        };
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        out.insert(rel, (kind, meta.mode() & 0o7777, meta.uid(), meta.gid()));
        if kind == 'd' {
            walk(root, &path, out);
        }
    }
}

#[test]
fn image_root_assembles_exactly_the_runtime_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    let out = Command::new(repo().join("scripts/image-root"))
        .arg(&root)
        .arg(env!("CARGO_BIN_EXE_bcq"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/image-root failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut tree = BTreeMap::new();
    walk(&root, &root, &mut tree);
    let kinds_and_modes: BTreeMap<&str, (char, u32)> = tree
        .iter()
        .map(|(p, (k, m, _, _))| (p.as_str(), (*k, *m)))
        .collect();
    assert_eq!(kinds_and_modes, expected_tree(), "the image's tree");

    // Owners: as root (the Dockerfile's build stage, CI) root's files and
    // bcq's working directory; as anyone else nothing can be given away.
    let me = std::fs::metadata(tmp.path()).unwrap();
    for (path, (_, _, uid, gid)) in &tree {
        let expected = match (me.uid(), path.as_str()) {
            (0, "var/lib/bcq") => (IMAGE_UID, IMAGE_GID),
            (0, _) => (0, 0),
            _ => (me.uid(), me.gid()),
        };
        assert_eq!((*uid, *gid), expected, "owner of {path}");
    }

    let file = |rel: &str| std::fs::read(root.join(rel)).unwrap();
    assert_eq!(
        String::from_utf8(file("etc/passwd")).unwrap(),
        format!("bcq:x:{IMAGE_UID}:{IMAGE_GID}:bcq:/var/lib/bcq:/sbin/nologin\n")
    );
    assert_eq!(
        String::from_utf8(file("etc/group")).unwrap(),
        format!("bcq:x:{IMAGE_GID}:\n")
    );
    assert_eq!(
        file("etc/ssl/certs/ca-certificates.crt"),
        std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap(),
        "the host's CA roots"
    );
    // The binary given, unchanged (sizes: the test binary is large).
    assert_eq!(
        std::fs::metadata(root.join("usr/local/bin/bcq"))
            .unwrap()
            .len(),
        std::fs::metadata(env!("CARGO_BIN_EXE_bcq")).unwrap().len()
    );

    // A second run into the same, now non-empty, directory is refused: the
    // tree is exactly the list only from an empty start.
    let again = Command::new(repo().join("scripts/image-root"))
        .arg(&root)
        .arg(env!("CARGO_BIN_EXE_bcq"))
        .output()
        .unwrap();
    assert!(!again.status.success());
}

#[test]
fn dockerfile_final_stage_is_the_image_root_only() {
    let stages = dockerfile_stages();
    let last = stages.last().unwrap();
    let from = &last[0].args;
    assert!(
        from == "scratch" || from.starts_with("gcr.io/distroless/static"),
        "the final stage starts FROM {from}"
    );

    // Nothing enters the final stage but the tree image-root built.
    for i in last {
        assert!(
            !matches!(i.keyword.as_str(), "ADD" | "RUN"),
            "the final stage has {} {}",
            i.keyword,
            i.args
        );
    }
    let copy = &only(last, "COPY").args;
    let words: Vec<&str> = copy.split_whitespace().collect();
    let build = match words.as_slice() {
        [from_flag, "/rootfs/", "/"] => from_flag
            .strip_prefix("--from=")
            .unwrap_or_else(|| panic!("COPY {copy}: not from a stage")),
        _ => panic!("the final stage copies `{copy}`; expected `--from=<stage> /rootfs/ /`"),
    };
    let build_stage = stages
        .iter()
        .find(|s| {
            s[0].args.ends_with(&format!(" AS {build}"))
                || s[0].args.ends_with(&format!(" as {build}"))
        })
        .unwrap_or_else(|| panic!("no stage named {build}"));
    assert!(
        build_stage
            .iter()
            .any(|i| i.keyword == "RUN" && i.args.contains("scripts/image-root /rootfs ")),
        "the {build} stage does not run scripts/image-root /rootfs"
    );
    let run = build_stage
        .iter()
        .find(|i| i.keyword == "RUN" && i.args.contains("cargo build"))
        .expect("the build stage builds bcq");
    for part in ["+crt-static", "--release", "--locked", "-p bcq"] {
        assert!(
            run.args.contains(part),
            "the build does not use {part}: {}",
            run.args
        );
    }

    // Who runs, where, on which port: the tree's user and directory,
    // README's port.
    assert_eq!(only(last, "USER").args, format!("{IMAGE_UID}:{IMAGE_GID}"));
    let tree = expected_tree();
    let workdir = &only(last, "WORKDIR").args;
    assert_eq!(workdir, "/var/lib/bcq");
    assert!(tree.contains_key(workdir.trim_start_matches('/')));
    let port = readme_port();
    assert_eq!(only(last, "EXPOSE").args, port.to_string());
    let env = image_env(last);
    assert_eq!(
        env.get("BCQ_LISTEN").map(String::as_str),
        Some(format!("0.0.0.0:{port}").as_str())
    );
    assert_eq!(
        env.get("TMPDIR").map(String::as_str),
        Some(workdir.as_str()),
        "scratch files need a writable directory; the image has no /tmp"
    );
    assert_documented(
        &BTreeSet::from(["BCQ_LISTEN".to_string()]),
        "the Dockerfile",
    );

    let entrypoint = exec_form(&only(last, "ENTRYPOINT").args, "ENTRYPOINT");
    assert_eq!(entrypoint, ["/usr/local/bin/bcq"]);
    assert!(tree.contains_key(entrypoint[0].trim_start_matches('/')));
    let cmd = exec_form(&only(last, "CMD").args, "CMD");
    assert_eq!(cmd, ["serve"]);
    assert_bcq_accepts(&cmd, "the Dockerfile's CMD");

    // The health check asks bcq's own /healthz on its port.
    let health = healthcheck_command(last);
    assert_eq!(health[0], "/usr/local/bin/bcq", "{health:?}");
    let url = health
        .iter()
        .find(|a| a.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {health:?}"));
    let (hc_port, path) = port_and_path(url);
    assert_eq!(hc_port, port);
    assert_eq!(path, "/healthz");
    assert!(get_routes().contains(&path));
}

/// The Dockerfile's and the ECS task's health checks run `bcq health
/// --url URL`, the only way to check a scratch image without curl: bcq
/// must have it.
#[test]
fn the_health_check_is_a_command_bcq_has() {
    let last = dockerfile_stages().pop().unwrap();
    let health = healthcheck_command(&last);
    assert_bcq_accepts(&health[1..], "the Dockerfile's HEALTHCHECK");
}

// ---------------------------------------------------------------------------
// Kubernetes: deploy/k8s.

/// Every document of a YAML file (`---` separated), empty ones left out.
fn yaml_docs(rel: &str) -> Vec<Yaml> {
    let text = read(rel);
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Yaml::deserialize(doc).unwrap_or_else(|e| panic!("{rel}: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

/// `v` at a dotted path ("spec.template.spec", numbers index sequences);
/// Null where it is absent.
fn at<'a>(v: &'a Yaml, path: &str) -> &'a Yaml {
    path.split('.')
        .fold(v, |v, key| match key.parse::<usize>() {
            Ok(i) => &v[i],
            Err(_) => &v[key],
        })
}

fn str_at<'a>(v: &'a Yaml, path: &str) -> &'a str {
    at(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path}: not a string in {v:?}"))
}

fn seq_at<'a>(v: &'a Yaml, path: &str) -> &'a [Yaml] {
    at(v, path)
        .as_sequence()
        .map(|s| s.as_slice())
        .unwrap_or_else(|| panic!("{path}: not a list in {v:?}"))
}

/// The one document of `kind` among the files of deploy/k8s.
fn k8s(kind: &str) -> Yaml {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(repo().join("deploy/k8s")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yaml") {
            for doc in yaml_docs(&format!("deploy/k8s/{name}")) {
                if doc["kind"].as_str() == Some(kind) {
                    found.push(doc);
                }
            }
        }
    }
    assert_eq!(found.len(), 1, "deploy/k8s holds {} {kind}", found.len());
    found.pop().unwrap()
}

fn bcq_container(deployment: &Yaml) -> Yaml {
    seq_at(deployment, "spec.template.spec.containers")
        .iter()
        .find(|c| c["name"].as_str() == Some("bcq"))
        .expect("a container named bcq")
        .clone()
}

/// The value an env list gives `name` (`value:` only).
fn env_value<'a>(env: &'a [Yaml], name: &str) -> Option<&'a str> {
    env.iter()
        .find(|e| e["name"].as_str() == Some(name))
        .and_then(|e| e["value"].as_str())
}

/// A map's keys and values as strings (labels, stringData).
fn string_map(v: &Yaml) -> BTreeMap<String, String> {
    v.as_mapping()
        .unwrap_or_else(|| panic!("not a map: {v:?}"))
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_string(),
                v.as_str()
                    .unwrap_or_else(|| panic!("{k:?}: not a string"))
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn kustomization_lists_files_that_exist() {
    let k = &yaml_docs("deploy/k8s/kustomization.yaml")[0];
    let text = read("deploy/k8s/kustomization.yaml");
    let resources: BTreeSet<String> = seq_at(k, "resources")
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    for r in &resources {
        assert!(
            repo().join("deploy/k8s").join(r).is_file(),
            "kustomization lists {r}, which does not exist"
        );
    }
    // Every other manifest is left out on purpose, and says why there.
    for entry in std::fs::read_dir(repo().join("deploy/k8s")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yaml") && name != "kustomization.yaml" && !resources.contains(&name) {
            assert!(
                ["secret.yaml", "servicemonitor.yaml"].contains(&name.as_str())
                    && text.contains(&name),
                "{name} is neither a resource of kustomization.yaml nor explained there"
            );
        }
    }
    assert!(resources.contains("deployment.yaml") && resources.contains("service.yaml"));
    // Its image override names the Deployment's image.
    let deployment = k8s("Deployment");
    let image = bcq_container(&deployment)["image"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        seq_at(k, "images")
            .iter()
            .any(|i| i["name"].as_str() == Some(image.as_str())),
        "kustomization's images do not name {image}"
    );
}

#[test]
fn deployment_runs_bcq_serve_unprivileged_and_probed() {
    let d = k8s("Deployment");
    let pod = at(&d, "spec.template.spec");
    let c = bcq_container(&d);

    // The image's user, never root, nothing to gain.
    assert_eq!(
        at(pod, "securityContext.runAsNonRoot").as_bool(),
        Some(true)
    );
    assert_eq!(
        at(pod, "securityContext.runAsUser").as_u64(),
        Some(IMAGE_UID.into())
    );
    assert_eq!(
        str_at(pod, "securityContext.seccompProfile.type"),
        "RuntimeDefault"
    );
    assert_eq!(
        at(pod, "automountServiceAccountToken").as_bool(),
        Some(false)
    );
    assert_eq!(at(&c, "securityContext.runAsNonRoot").as_bool(), Some(true));
    assert_eq!(
        at(&c, "securityContext.allowPrivilegeEscalation").as_bool(),
        Some(false)
    );
    assert_eq!(
        at(&c, "securityContext.readOnlyRootFilesystem").as_bool(),
        Some(true)
    );
    let drop: Vec<&str> = seq_at(&c, "securityContext.capabilities.drop")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(drop, ["ALL"]);
    assert!(at(&c, "securityContext.capabilities.add").is_null());
    // The root is read-only: bcq's working directory is a volume.
    assert!(
        seq_at(&c, "volumeMounts")
            .iter()
            .any(|m| m["mountPath"].as_str() == Some("/var/lib/bcq")),
        "nothing writable at /var/lib/bcq"
    );

    // The port README documents, reachable from outside the pod.
    let port = readme_port();
    let ports = seq_at(&c, "ports");
    let http = ports
        .iter()
        .find(|p| p["name"].as_str() == Some("http"))
        .expect("a container port named http");
    assert_eq!(http["containerPort"].as_u64(), Some(port.into()));
    let env = seq_at(&c, "env");
    assert_eq!(
        env_value(env, "BCQ_LISTEN"),
        Some(format!("0.0.0.0:{port}").as_str())
    );

    // Probes on routes bcq serves, through that port.
    let routes = get_routes();
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        assert_eq!(str_at(&c, &format!("{probe}.httpGet.path")), path);
        assert!(
            routes.contains(path),
            "bcq serve has no GET {path}: {routes:?}"
        );
        assert_eq!(str_at(&c, &format!("{probe}.httpGet.port")), "http");
    }
    // /readyz may wait READY_TIMEOUT for a BC token: the probe waits longer.
    let timeout = at(&c, "readinessProbe.timeoutSeconds").as_u64().unwrap();
    assert!(
        timeout > ready_timeout_seconds(),
        "readinessProbe.timeoutSeconds {timeout}"
    );

    // SIGTERM: the grace period, then a margin, before the kill.
    let grace = env_value(env, "BCQ_GRACE_SECONDS")
        .map(|g| g.parse().unwrap())
        .unwrap_or_else(readme_grace_seconds);
    let termination = at(pod, "terminationGracePeriodSeconds").as_u64().unwrap();
    assert!(
        termination >= grace + 10,
        "terminationGracePeriodSeconds {termination}, grace {grace}"
    );

    for kind in ["requests", "limits"] {
        for r in ["cpu", "memory"] {
            assert!(
                !at(&c, &format!("resources.{kind}.{r}")).is_null(),
                "no resources.{kind}.{r}"
            );
        }
    }

    let args: Vec<String> = seq_at(&c, "args")
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(args[0], "serve");
    assert_bcq_accepts(&args, "deployment.yaml");

    // Settings: the Secret's (envFrom) and the container's own, all
    // documented. Several replicas need the shared PostgreSQL state, and a
    // Secret without it must stop the pod (secretKeyRef), not fall back to
    // a state of each pod's own.
    let secret = k8s("Secret");
    let secret_name = str_at(&secret, "metadata.name");
    assert!(
        seq_at(&c, "envFrom")
            .iter()
            .any(|e| at(e, "secretRef.name").as_str() == Some(secret_name)),
        "envFrom does not read the Secret {secret_name}"
    );
    let secret_keys: BTreeSet<String> = string_map(at(&secret, "stringData")).into_keys().collect();
    let mut names: BTreeSet<String> = env
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    names.extend(secret_keys.iter().cloned());
    assert_documented(&names, "deploy/k8s");
    if at(&d, "spec.replicas").as_u64().unwrap_or(1) > 1 {
        let state = env
            .iter()
            .find(|e| e["name"].as_str() == Some("BCQ_STATE_URL"))
            .expect("several replicas without BCQ_STATE_URL");
        assert_eq!(str_at(state, "valueFrom.secretKeyRef.name"), secret_name);
        let key = str_at(state, "valueFrom.secretKeyRef.key");
        assert!(secret_keys.contains(key), "the Secret has no {key}");
        assert!(at(state, "valueFrom.secretKeyRef.optional").as_bool() != Some(true));
    }
}

#[test]
fn example_secret_holds_placeholders_only() {
    let secret = k8s("Secret");
    assert!(
        at(&secret, "data").is_null(),
        "base64 data in the example Secret"
    );
    let values = string_map(at(&secret, "stringData"));
    for (k, v) in &values {
        let placeholder = v.find('<').is_some_and(|open| v[open..].contains('>'));
        assert!(placeholder, "{k}: {v:?} is not a <placeholder>");
    }
    for key in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        assert!(
            !values.contains_key(key),
            "{key}: AWS credentials come from the pod's role"
        );
    }
    let state = &values["BCQ_STATE_URL"];
    assert!(
        state.starts_with("postgres://") && state.contains("sslmode="),
        "{state}"
    );
}

#[test]
fn service_and_servicemonitor_reach_the_listener() {
    let d = k8s("Deployment");
    let pod_labels = string_map(at(&d, "spec.template.metadata.labels"));
    let svc = k8s("Service");
    assert_eq!(str_at(&svc, "spec.type"), "ClusterIP");
    for (k, v) in string_map(at(&svc, "spec.selector")) {
        assert_eq!(
            pod_labels.get(&k),
            Some(&v),
            "the Service selects {k}={v}, the pods are not"
        );
    }
    let container_ports: BTreeSet<String> = seq_at(&bcq_container(&d), "ports")
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let mut svc_ports = BTreeSet::new();
    for p in seq_at(&svc, "spec.ports") {
        let target = p["targetPort"].as_str().expect("targetPort by name");
        assert!(
            container_ports.contains(target),
            "targetPort {target} is no container port"
        );
        svc_ports.insert(p["name"].as_str().unwrap().to_string());
    }
    assert!(
        svc_ports.contains("http") && svc_ports.contains("metrics"),
        "{svc_ports:?}"
    );
    // BC reaches the webhooks only through an Ingress on BCQ_PUBLIC_URL.
    let text = read("deploy/k8s/service.yaml");
    assert!(
        text.contains("Ingress")
            && text.contains("BCQ_PUBLIC_URL")
            && text.contains(bcq::serve::hooks::PATH),
        "service.yaml must say that an Ingress routes BCQ_PUBLIC_URL's {} to it",
        bcq::serve::hooks::PATH
    );

    let sm = k8s("ServiceMonitor");
    assert_eq!(str_at(&sm, "apiVersion"), "monitoring.coreos.com/v1");
    let svc_labels = string_map(at(&svc, "metadata.labels"));
    for (k, v) in string_map(at(&sm, "spec.selector.matchLabels")) {
        assert_eq!(
            svc_labels.get(&k),
            Some(&v),
            "the ServiceMonitor selects {k}={v}"
        );
    }
    let endpoint = &seq_at(&sm, "spec.endpoints")[0];
    assert_eq!(endpoint["port"].as_str(), Some("metrics"));
    let path = endpoint["path"].as_str().unwrap();
    assert!(get_routes().contains(path), "bcq serve has no GET {path}");
}

// ---------------------------------------------------------------------------
// Amazon ECS: deploy/ecs/task-definition.json.

fn json_strings(v: &Json) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn ecs_task_definition_runs_bcq_serve_unprivileged() {
    let td: Json = serde_json::from_str(&read("deploy/ecs/task-definition.json")).unwrap();
    assert!(json_strings(&td["requiresCompatibilities"]).contains(&"FARGATE".to_string()));
    for role in ["taskRoleArn", "executionRoleArn"] {
        let arn = td[role].as_str().unwrap();
        assert!(
            arn.starts_with("arn:aws:iam::ACCOUNT:role/"),
            "{role} {arn}"
        );
    }
    let containers = td["containerDefinitions"].as_array().unwrap();
    let c = containers
        .iter()
        .find(|c| c["name"] == "bcq")
        .expect("a container named bcq");

    assert_eq!(c["user"], IMAGE_UID.to_string());
    assert_eq!(c["readonlyRootFilesystem"], true);
    assert_eq!(
        json_strings(&c["linuxParameters"]["capabilities"]["drop"]),
        ["ALL"]
    );
    assert!(c["privileged"].is_null() || c["privileged"] == false);
    let volumes: BTreeSet<&str> = td["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert!(
        c["mountPoints"].as_array().unwrap().iter().any(|m| {
            m["containerPath"] == "/var/lib/bcq"
                && volumes.contains(m["sourceVolume"].as_str().unwrap())
        }),
        "nothing writable at /var/lib/bcq"
    );

    let command = json_strings(&c["command"]);
    assert_eq!(command[0], "serve");
    assert_bcq_accepts(&command, "task-definition.json");

    let port = readme_port();
    assert!(
        c["portMappings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["containerPort"] == port),
        "no port mapping for {port}"
    );
    let env: BTreeMap<String, String> = c["environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(env.get("BCQ_LISTEN"), Some(&format!("0.0.0.0:{port}")));

    // Secrets from Secrets Manager, placeholders only; the state among them.
    let mut secrets = BTreeSet::new();
    for s in c["secrets"].as_array().unwrap() {
        let from = s["valueFrom"].as_str().unwrap();
        assert!(
            from.starts_with("arn:aws:secretsmanager:REGION:ACCOUNT:secret:bcq/"),
            "{} from {from}",
            s["name"]
        );
        secrets.insert(s["name"].as_str().unwrap().to_string());
    }
    for name in ["DYNAMICS_SECRET", "BCQ_STATE_URL"] {
        assert!(
            secrets.contains(name) && !env.contains_key(name),
            "{name} must come from a secret"
        );
    }
    let mut names: BTreeSet<String> = env.keys().cloned().collect();
    names.extend(secrets);
    assert_documented(&names, "deploy/ecs/task-definition.json");

    // The same health check as the image's, on /healthz.
    let last = dockerfile_stages().pop().unwrap();
    let mut expected = vec!["CMD".to_string()];
    expected.extend(healthcheck_command(&last));
    assert_eq!(json_strings(&c["healthCheck"]["command"]), expected);

    // SIGTERM: the grace period, a margin, and Fargate's 120 s at most.
    let grace = env
        .get("BCQ_GRACE_SECONDS")
        .map(|g| g.parse().unwrap())
        .unwrap_or_else(readme_grace_seconds);
    let stop = c["stopTimeout"].as_u64().unwrap();
    assert!(
        stop >= grace + 10 && stop <= 120,
        "stopTimeout {stop}, grace {grace}"
    );

    assert_eq!(c["logConfiguration"]["logDriver"], "awslogs");
}

/// The image's contents, run: `scripts/image-root` around the statically
/// linked bcq, entered with `chroot` so that it is the whole file system,
/// as the image's user, in its working directory, with its environment
/// (the Dockerfile's ENV) and nothing else, running `bcq demo`: the
/// emulators, a token, a sync and the access demo, from a binary that
/// needs nothing from the host. Needs root (to change root), as CI has.
#[test]
fn the_image_tree_runs_bcq_demo_with_nothing_else() {
    let bin = std::env::var("BCQ_STATIC_BIN").unwrap_or_else(|_| {
        panic!(
            "BCQ_STATIC_BIN is not set: run the suite with scripts/test, which builds a statically \
             linked bcq, or build one (RUSTFLAGS='-C target-feature=+crt-static' cargo build \
             --target x86_64-unknown-linux-gnu -p bcq --bin bcq) and point BCQ_STATIC_BIN at it"
        )
    });
    // Static: no program interpreter (ld.so) to load.
    let headers = Command::new("readelf")
        .args(["-lW", &bin])
        .output()
        .unwrap();
    assert!(headers.status.success(), "readelf {bin}");
    let headers = String::from_utf8_lossy(&headers.stdout);
    assert!(
        !headers.contains("Requesting program interpreter"),
        "{bin} is dynamically linked"
    );

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    let out = Command::new(repo().join("scripts/image-root"))
        .arg(&root)
        .arg(&bin)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The tree is the image's and nothing else (the first test checks it
    // file by file); the process sees only it, plus the devices every
    // container runtime provides (the OCI runtime specification's default
    // devices: /dev/null, zero, full, random, urandom, tty).
    std::fs::create_dir(root.join("dev")).unwrap();
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let node = root.join("dev").join(name);
        let made = Command::new("mknod")
            .args(["-m", "666"])
            .arg(&node)
            .args(["c", &major.to_string(), &minor.to_string()])
            .status()
            .unwrap();
        assert!(made.success(), "mknod {}", node.display());
    }
    let stages = dockerfile_stages();
    let last = stages.last().unwrap();
    let user = only(last, "USER").args.clone();
    let workdir = only(last, "WORKDIR").args.clone();
    let entrypoint = exec_form(&only(last, "ENTRYPOINT").args, "ENTRYPOINT");
    let (uid, gid) = user.split_once(':').unwrap_or((&user, &user));
    // unshare --root: the tree is the whole file system (chroot), entered
    // in the image's working directory, as the image's user.
    let mut run = Command::new("unshare");
    run.arg(format!("--root={}", root.display()))
        .arg(format!("--wd={workdir}"))
        .args(["--setgid", gid, "--setuid", uid])
        .args(&entrypoint)
        .arg("demo")
        .env_clear();
    for (k, v) in image_env(last) {
        run.env(k, v);
    }
    run.env("HOME", &workdir);
    let out = run.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bcq demo in the image's tree failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("succeeded"), "{stdout}");
}

// ---------------------------------------------------------------------------
// The systemd unit.

/// The unit with its binary and environment file pointing at real files
/// (verify checks that they exist), in a scratch directory.
fn unit_here(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("deploy/systemd/bcq.service")).unwrap();
    assert!(
        text.contains("ExecStart=/usr/local/bin/bcq serve"),
        "{text}"
    );
    let env_file = dir.join("bcq.env");
    std::fs::write(&env_file, "BCQ_POLL_SECONDS=300\n").unwrap();
    let text = text
        .replace("/usr/local/bin/bcq", env!("CARGO_BIN_EXE_bcq"))
        .replace("/etc/bcq/bcq.env", env_file.to_str().unwrap());
    let unit = dir.join("bcq.service");
    std::fs::write(&unit, text).unwrap();
    unit
}

fn systemd_analyze(args: &[&str]) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .output()
        .expect("systemd-analyze runs (.ci/run installs the systemd package)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_here(dir.path());
    let unit = unit.to_str().unwrap();
    let (ok, out) = systemd_analyze(&["verify", unit]);
    // verify speaks only of problems; none may name the unit.
    assert!(
        ok && !out.contains("bcq.service"),
        "systemd-analyze verify:\n{out}"
    );
    let (ok, out) = systemd_analyze(&["security", "--offline=yes", "--threshold=20", unit]);
    assert!(ok, "exposure above 2.0:\n{out}");
    assert!(
        out.contains("Overall exposure level for bcq.service"),
        "{out}"
    );
}

#[test]
fn the_units_command_line_is_one_bcq_accepts() {
    let text = std::fs::read_to_string(repo().join("deploy/systemd/bcq.service")).unwrap();
    let exec = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=/usr/local/bin/bcq "))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = exec
        .split_whitespace()
        .map(|a| a.replace("/var/lib/bcq", dir.path().to_str().unwrap()))
        .collect();
    assert_bcq_accepts(&args, "the systemd unit's ExecStart");
}
