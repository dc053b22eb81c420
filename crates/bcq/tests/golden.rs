//! `bcq export` of one record of every catalog entity, compared with the
//! committed golden files in `tests/golden/` (a reviewer reads those to
//! judge how documents read). Regenerate with `BCQ_UPDATE_GOLDEN=1`.

mod common;

use common::World;
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The first record's files (sorted by name) of every entity directory.
fn first_of_each(company_dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut entities: Vec<_> = std::fs::read_dir(company_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .collect();
    entities.sort_by_key(|e| e.file_name());
    for e in entities {
        let mut files: Vec<PathBuf> = std::fs::read_dir(e.path())
            .unwrap()
            .filter_map(|f| f.ok())
            .map(|f| f.path())
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        files.sort();
        if let Some(first) = files.into_iter().next() {
            out.push((e.file_name().to_string_lossy().into_owned(), first));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_documents_match_the_golden_files() {
    let w = World::start(
        bc_sim::SimConfig {
            invoices_per_company: 3,
            ..bc_sim::SimConfig::default()
        },
        q_sim::QSimConfig::default(),
    )
    .await;
    let out = w.dir.path().join("export");
    let r = w
        .bcq(
            &["export", "--out", &out.display().to_string()],
            &[("BCQ_ENTITIES", "all")],
        )
        .await;
    r.assert_ok();
    let company_dir = out
        .join("production")
        .join(w.company_id().to_ascii_lowercase());
    let firsts = first_of_each(&company_dir);
    assert_eq!(
        firsts.len(),
        bcq_core::catalog::CATALOG.len(),
        "one record of each catalog entity: {:?}",
        firsts.iter().map(|(e, _)| e).collect::<Vec<_>>()
    );
    let update = std::env::var_os("BCQ_UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for (entity, md) in firsts {
        for (src, name) in [
            (md.clone(), format!("{entity}.md")),
            (md.with_extension("md.json"), format!("{entity}.json")),
        ] {
            let got = std::fs::read_to_string(&src).unwrap();
            let golden = golden_dir().join(&name);
            if update {
                std::fs::write(&golden, &got).unwrap();
                continue;
            }
            match std::fs::read_to_string(&golden) {
                Ok(want) if want == got => {}
                Ok(_) => mismatches.push(format!("{name} differs from {}", golden.display())),
                Err(_) => mismatches.push(format!("{name} has no golden file")),
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{}\nif the change is intended: BCQ_UPDATE_GOLDEN=1 cargo test -p bcq --test golden",
        mismatches.join("\n")
    );
    w.emu.stop().await;
}
