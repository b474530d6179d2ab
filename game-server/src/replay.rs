//! `game-server replay <db-or-snapshot>`: re-runs a campaign's command log
//! from its seed, checks every stored tick hash, and reports the final
//! state hash.

use std::path::Path;

use anyhow::Context as _;

use crate::engine::{replay, world_of};
use crate::snapshot::unpack;
use crate::store::Store;

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Campaign id.
    pub campaign_id: String,
    /// Ticks replayed.
    pub ticks: u64,
    /// Commands applied.
    pub commands: u64,
    /// Final state hash.
    pub state_hash: String,
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Replays a campaign database, or a zstd snapshot of one.
pub fn replay_path(path: &Path) -> anyhow::Result<ReplayReport> {
    let mut head = [0u8; 4];
    {
        use std::io::Read as _;
        let mut f =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let _ = f.read(&mut head).context("reading the file")?;
    }
    let tmp;
    let db_path = if head == ZSTD_MAGIC {
        tmp = tempfile::tempdir().context("creating a temporary folder")?;
        let dest = tmp.path().join("game.db");
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        unpack(&bytes, &dest, &path.display().to_string()).context("unpacking the snapshot")?;
        dest
    } else {
        path.to_path_buf()
    };
    let store = Store::open_read_only(&db_path)
        .with_context(|| format!("opening {} as a campaign database", path.display()))?;
    let meta = store
        .meta()?
        .context("the database holds no campaign (no metadata)")?;
    let world = world_of(&meta)?;
    let r = replay(&store, world).context("replaying the command log")?;
    Ok(ReplayReport {
        campaign_id: meta.campaign_id,
        ticks: r.ticks,
        commands: r.commands,
        state_hash: r.sim.hash(),
    })
}
