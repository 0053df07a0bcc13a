use std::path::{Path, PathBuf};

use crate::StoreError;

/// The environment variable that points the app at another profile folder.
pub const PROFILE_ENV: &str = "SIPERB_PROFILE";

/// Where one user's Siperb data lives.
///
/// By default the OS conventions apply (on Linux `$XDG_DATA_HOME/siperb` and `$XDG_CONFIG_HOME/siperb`,
/// on macOS `~/Library/Application Support/com.Siperb.Siperb`, on Windows `%LOCALAPPDATA%\Siperb\Siperb`
/// and `%APPDATA%\Siperb\Siperb`).
/// An explicit folder (`--profile DIR`, `SIPERB_PROFILE=DIR`) holds everything under one root, so
/// tests, the CLI and the app can share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    data_dir: PathBuf,
    config_dir: PathBuf,
    log_dir: PathBuf,
}

impl Profile {
    /// The profile at `dir`, or the OS user's default one.
    pub fn resolve(dir: Option<&Path>) -> Result<Self, StoreError> {
        match dir {
            Some(dir) => Ok(Self::at(dir)),
            None => Self::os_default(),
        }
    }

    /// `--profile` wins, then `SIPERB_PROFILE` (when set and not empty), then the OS default.
    pub fn from_env_or(dir: Option<&Path>) -> Result<Self, StoreError> {
        if let Some(dir) = dir {
            return Ok(Self::at(dir));
        }
        match std::env::var_os(PROFILE_ENV) {
            Some(v) if !v.is_empty() => Ok(Self::at(Path::new(&v))),
            _ => Self::os_default(),
        }
    }

    /// Everything under one folder.
    pub fn at(dir: &Path) -> Self {
        let root = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        Self {
            data_dir: root.join("data"),
            config_dir: root.join("config"),
            log_dir: root.join("logs"),
        }
    }

    fn os_default() -> Result<Self, StoreError> {
        let dirs =
            directories::ProjectDirs::from("com", "Siperb", "Siperb").ok_or(StoreError::NoHome)?;
        Ok(Self {
            data_dir: dirs.data_local_dir().to_path_buf(),
            config_dir: dirs.config_dir().to_path_buf(),
            log_dir: dirs.data_local_dir().join("logs"),
        })
    }

    /// Creates the folders if they are missing.
    pub fn ensure(&self) -> Result<(), StoreError> {
        for dir in [&self.data_dir, &self.config_dir, &self.log_dir] {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// The SQLite database, contacts and history (issue 6).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// The accounts, without passwords (those live in the OS keyring).
    pub fn accounts_file(&self) -> PathBuf {
        self.config_dir.join("accounts.json")
    }

    pub fn settings_file(&self) -> PathBuf {
        self.config_dir.join("settings.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_folder_holds_everything() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let p = Profile::resolve(Some(tmp.path())).expect("profile");
        assert!(p.data_dir().starts_with(tmp.path()));
        assert!(p.config_dir().starts_with(tmp.path()));
        assert!(p.log_dir().starts_with(tmp.path()));
        p.ensure().expect("create folders");
        assert!(p.data_dir().is_dir() && p.config_dir().is_dir() && p.log_dir().is_dir());
        assert_eq!(
            p.settings_file(),
            tmp.path().join("config").join("settings.json")
        );
    }

    #[test]
    fn relative_folders_become_absolute() {
        let p = Profile::at(Path::new("some/relative/profile"));
        assert!(p.data_dir().is_absolute());
    }

    #[test]
    fn the_default_follows_os_conventions() {
        // HOME is set in every test environment we run in; the default must not be the cwd.
        if let Ok(p) = Profile::resolve(None) {
            assert!(p.config_dir().is_absolute());
            #[cfg(target_os = "linux")]
            assert!(
                p.config_dir().to_string_lossy().contains("siperb"),
                "{:?}",
                p.config_dir()
            );
        }
    }

    #[test]
    fn a_file_where_the_folder_should_be_is_a_clear_error() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let blocker = tmp.path().join("blocked");
        std::fs::write(&blocker, b"not a folder").expect("write");
        let err = Profile::at(&blocker).ensure().expect_err("must fail");
        assert!(
            err.to_string().contains("cannot create the profile folder"),
            "{err}"
        );
    }
}
