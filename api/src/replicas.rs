//! Several servers on one database: each follows the grid systems' versions and reloads its
//! catalog when another process (a second `gridmap serve`, or `gridmap import` on the command
//! line) has committed a change, so that `locate` agrees everywhere within a fraction of a
//! second.
//!
//! Every change to a unit bumps its grid system's `version` in the same transaction, so
//! `SELECT id, version FROM grid_system` every [`POLL_INTERVAL`] is enough to notice one; the
//! poll costs one tiny query and nothing else while nothing changes. Changes this process made
//! itself are known from its own announcements (the `gridSystemChanged` channel) and cause no
//! reload. A reload reads the database under the writer lock (so no local write interleaves
//! with it), builds the new catalog off the runtime and swaps it in whole: readers keep
//! answering from the old catalog meanwhile. The systems another process changed are then
//! announced here too, so live maps on every replica hear of every change.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use entity::grid_system;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::broadcast::Receiver;

use crate::catalog::Catalog;
use crate::error::ApiResult;
use crate::state::AppState;

/// How often the versions are read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The version of every grid system, by id.
pub type Versions = BTreeMap<i64, i32>;

/// Reads the version of every grid system.
pub async fn read_versions(db: &impl ConnectionTrait) -> ApiResult<Versions> {
    Ok(grid_system::Entity::find()
        .order_by_asc(grid_system::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.version))
        .collect())
}

/// Follows the database for as long as the server runs. `loaded`: the versions read just
/// before the current catalog was loaded (a change committed in between only causes one
/// reload too many).
pub async fn follow(state: Arc<AppState>, loaded: Versions) {
    let mut follower = Follower {
        reflected: loaded,
        announced: state.changes(),
    };
    let mut ticker = tokio::time::interval(POLL_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = follower.step(&state).await {
            tracing::warn!(%error, "could not follow the database's grid system versions");
        }
    }
}

/// What the catalog in memory shows, and this process's own changes not yet taken in.
struct Follower {
    reflected: Versions,
    announced: Receiver<grid_system::Model>,
}

impl Follower {
    async fn step(&mut self, state: &AppState) -> ApiResult<()> {
        self.take_announcements();
        if read_versions(&state.db).await? == self.reflected {
            return Ok(());
        }
        // Something changed: look again with local writers held off, so that every local
        // change has been committed, swapped in and announced.
        let _writer = state.writer.lock().await;
        self.take_announcements();
        let current = read_versions(&state.db).await?;
        if current == self.reflected {
            return Ok(());
        }
        let started = Instant::now();
        let catalog = Catalog::load(&state.db).await?;
        state.set_loaded_catalog(catalog, current.clone());
        let changed: Vec<i64> = current
            .iter()
            .filter(|(id, version)| self.reflected.get(id) != Some(version))
            .map(|(id, _)| *id)
            .collect();
        tracing::info!(
            elapsed = ?started.elapsed(),
            systems = ?changed,
            "another process changed the grid systems; catalog reloaded"
        );
        self.reflected = current;
        for system in grid_system::Entity::find().all(&state.db).await? {
            if changed.contains(&system.id) {
                state.announce(system);
            }
        }
        Ok(())
    }

    /// Applies this process's own announced changes: a version one above the one shown is
    /// taken in; an older one (the re-announcement of a reload) is ignored; a gap means
    /// another process wrote in between, which the next comparison notices.
    fn take_announcements(&mut self) {
        loop {
            match self.announced.try_recv() {
                Ok(system) => match self.reflected.get(&system.id) {
                    None => {
                        self.reflected.insert(system.id, system.version);
                    }
                    Some(&shown) if system.version == shown + 1 => {
                        self.reflected.insert(system.id, system.version);
                    }
                    Some(_) => {}
                },
                // Missed announcements: forget what is shown, so the next step reloads.
                Err(TryRecvError::Lagged(_)) => self.reflected.clear(),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return,
            }
        }
    }
}
