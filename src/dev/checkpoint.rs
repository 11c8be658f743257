//! Where the local stream reader stopped, kept in a file so a restart resumes exactly there.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Positions by stream and shard, saved as JSON after every batch.
#[derive(Debug)]
pub struct Checkpoints {
    path: PathBuf,
    positions: BTreeMap<String, String>,
}

impl Checkpoints {
    /// Loads the checkpoints saved at `path` (none if the file is absent).
    pub fn load(path: PathBuf) -> anyhow::Result<Self> {
        let positions = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(error) => anyhow::bail!("{}: {error}", path.display()),
        };
        Ok(Checkpoints { path, positions })
    }

    /// The last sequence number handled in this shard.
    pub fn get(&self, stream_arn: &str, shard_id: &str) -> Option<&str> {
        self.positions
            .get(&format!("{stream_arn}|{shard_id}"))
            .map(String::as_str)
    }

    /// Records `sequence` as handled and saves the file (atomically: write, then rename).
    pub fn set(&mut self, stream_arn: &str, shard_id: &str, sequence: &str) -> anyhow::Result<()> {
        self.positions
            .insert(format!("{stream_arn}|{shard_id}"), sequence.to_owned());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temporary = self.path.with_extension("tmp");
        std::fs::write(&temporary, serde_json::to_vec_pretty(&self.positions)?)?;
        std::fs::rename(&temporary, &self.path)?;
        Ok(())
    }
}
