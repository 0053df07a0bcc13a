use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "no home directory is known for this user, so there is no place for the profile; set SIPERB_PROFILE"
    )]
    NoHome,
    #[error("cannot create the profile folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] crate::DbError),
    #[error("{path} is damaged and was set aside as {backup}: {source}")]
    Corrupt {
        path: PathBuf,
        backup: PathBuf,
        source: serde_json::Error,
    },
}
