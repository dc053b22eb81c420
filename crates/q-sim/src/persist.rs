//! Persistence: the whole [`State`] as one JSON file, written atomically
//! (temp file, fsync, rename, fsync of the directory) so a crash leaves
//! either the old or the new file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::state::State;

/// File name inside `data_dir`.
pub const FILE_NAME: &str = "q-sim-state.json";

/// Path of the state file.
pub fn state_path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Loads the state; a missing file gives an empty state.
pub fn load(dir: &Path) -> std::io::Result<State> {
    let p = state_path(dir);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("corrupt state file {}: {e}", p.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(e),
    }
}

/// Writes the state atomically.
pub fn save(dir: &Path, state: &State) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        let bytes = serde_json::to_vec(state).map_err(std::io::Error::other)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, state_path(dir))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_roundtrip_and_corrupt_file() {
        let dir = std::env::temp_dir().join(format!("q-sim-persist-unit-{}", uuid::Uuid::new_v4()));
        assert!(
            load(&dir).unwrap().apps.is_empty(),
            "missing file is an empty state"
        );
        let mut s = State::default();
        s.ensure_precreated(
            crate::config::DEFAULT_APPLICATION_ID,
            crate::config::DEFAULT_INDEX_ID,
            crate::config::DEFAULT_DATA_SOURCE_ID,
        );
        save(&dir, &s).unwrap();
        let back = load(&dir).unwrap();
        assert!(
            back.apps[crate::config::DEFAULT_APPLICATION_ID]
                .indices
                .contains_key(crate::config::DEFAULT_INDEX_ID)
        );
        assert!(!dir.join(format!("{FILE_NAME}.tmp")).exists());
        std::fs::write(state_path(&dir), b"{truncated").unwrap();
        let e = load(&dir).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("corrupt state file"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
