//! Several servers on one database: each follows the grid systems' versions and reloads its
//! catalog when another process (a second `gridmap serve`, or `gridmap import` on the command
//! line) has committed a change, so that `locate` agrees everywhere within a fraction of a
//! second.
//!
//! Every change to a unit bumps its grid system's `version` in the same transaction, so
//! `SELECT id, version FROM grid_system` every [`POLL_INTERVAL`] is enough to notice one; the
//! poll costs one tiny query and nothing else while nothing changes. Changes this process made
//! itself are taken into the versions the catalog shows as they commit, and cause no reload.
//! A reload reads the database under the writer lock (so no local write interleaves with it),
//! builds the new catalog off the runtime and swaps it in whole: readers keep answering from
//! the old catalog meanwhile. The systems another process changed are then
//! announced here too, so live maps on every replica hear of every change.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use entity::grid_system;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};

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

/// Follows the database for as long as the server runs: whenever a grid system's version
/// differs from the one the catalog shows (`AppState::shown_versions`, which this process's
/// own commits keep up to date), reloads the catalog.
pub async fn follow(state: Arc<AppState>) {
    let mut ticker = tokio::time::interval(POLL_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = step(&state).await {
            tracing::warn!(%error, "could not follow the database's grid system versions");
        }
    }
}

async fn step(state: &AppState) -> ApiResult<()> {
    if read_versions(&state.db).await? == state.shown_versions()? {
        return Ok(());
    }
    // Something changed: look again with local writers held off, so that a local change
    // seen committed above has been swapped in and taken into the shown versions too.
    let _writer = state.writer.lock().await;
    let shown = state.shown_versions()?;
    let current = read_versions(&state.db).await?;
    if current == shown {
        return Ok(());
    }
    let started = Instant::now();
    let catalog = Catalog::load(&state.db).await?;
    state.set_loaded_catalog(catalog, current.clone());
    let changed: Vec<i64> = current
        .iter()
        .filter(|(id, version)| shown.get(id) != Some(version))
        .map(|(id, _)| *id)
        .collect();
    tracing::info!(
        elapsed = ?started.elapsed(),
        systems = ?changed,
        "another process changed the grid systems; catalog reloaded"
    );
    for system in grid_system::Entity::find().all(&state.db).await? {
        if changed.contains(&system.id) {
            state.announce(system);
        }
    }
    Ok(())
}
