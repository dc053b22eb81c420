//! The deployment files under `deploy/` are valid for the tools that read
//! them: the systemd unit passes `systemd-analyze verify` and its hardening
//! keeps `systemd-analyze security` at "OK" (exposure ≤ 2.0 of 10).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

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
    // The unit's flags, then --help: clap refuses a flag it does not know
    // (exit 2) before it reaches --help.
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
    let out = Command::new(env!("CARGO_BIN_EXE_bcq"))
        .args(&args)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
