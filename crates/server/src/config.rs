//! `outpostd` settings: defaults < `outpost.toml` in the data directory <
//! environment (`OUTPOST_*`) < command line.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;

pub const CONFIG_FILE: &str = "outpost.toml";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8000";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on, e.g. "0.0.0.0:8000".
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("Cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("Invalid {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
}

impl FileConfig {
    /// Reads `outpost.toml` from `data_dir`; a missing file means defaults.
    pub fn load(data_dir: &Path) -> Result<FileConfig, ConfigError> {
        let path = data_dir.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileConfig::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source,
        })
    }
}
