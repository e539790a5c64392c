//! Unit rows kept in memory for `locate`, the hottest query: its chain of ids comes from the
//! index, and the rows (names, counts) from here instead of one database round trip per call,
//! which capped `locate` at about a quarter of what the HTTP and GraphQL layers can serve.
//!
//! Rows are fresh enough by construction: the cache belongs to one catalog (a swap after any
//! change of units, here or on another replica, starts it afresh), it is emptied after every
//! mutation this server executes (`http`), and rows older than [`MAX_AGE`] are read again, so
//! a household added through another process shows in the counts within that time. Rows are
//! kept without their geometry too, handed out when the query does not ask for it (the city's
//! outline alone is ~12 KB to copy per call).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use async_graphql::dataloader::DataLoader;
use async_graphql::Context;
use entity::unit;
use geodata::UnitId;

use super::loader::UnitLoader;
use super::types::UnitNode;
use crate::catalog::Catalog;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How long a row may be served before it is read again.
pub const MAX_AGE: Duration = Duration::from_millis(500);

/// The rows read since the current catalog was swapped in (or since [`MAX_AGE`]).
#[derive(Debug, Default)]
pub struct UnitRows {
    current: RwLock<Generation>,
    /// Bumped by every mutation: rows read before it must not be kept after it.
    epoch: AtomicU64,
}

#[derive(Debug)]
struct Generation {
    catalog: Weak<Catalog>,
    epoch: u64,
    started: Instant,
    rows: HashMap<UnitId, unit::Model>,
    /// The same rows with an empty `geometry`.
    light: HashMap<UnitId, unit::Model>,
}

impl Default for Generation {
    fn default() -> Self {
        Generation {
            catalog: Weak::new(),
            epoch: 0,
            started: Instant::now(),
            rows: HashMap::new(),
            light: HashMap::new(),
        }
    }
}

impl Generation {
    fn serves(&self, catalog: &Arc<Catalog>, epoch: u64) -> bool {
        self.epoch == epoch
            && std::ptr::eq(self.catalog.as_ptr(), Arc::as_ptr(catalog))
            && self.started.elapsed() < MAX_AGE
    }
}

impl UnitRows {
    /// The rows of `ids`, in that order (ids without a row are skipped), with their geometry
    /// or not; the missing ones are read through the batching `loader`.
    pub async fn get(
        &self,
        catalog: &Arc<Catalog>,
        loader: &DataLoader<UnitLoader>,
        ids: &[UnitId],
        geometry: bool,
    ) -> ApiResult<Vec<unit::Model>> {
        let epoch = self.epoch.load(Ordering::Acquire);
        if let Ok(current) = self.current.read() {
            let rows = if geometry {
                &current.rows
            } else {
                &current.light
            };
            if current.serves(catalog, epoch) && ids.iter().all(|id| rows.contains_key(id)) {
                return Ok(ids.iter().filter_map(|id| rows.get(id).cloned()).collect());
            }
        }
        let found = loader
            .load_many(ids.iter().copied())
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        if let Ok(mut current) = self.current.write() {
            // Keep what was read only if no mutation ran meanwhile.
            if self.epoch.load(Ordering::Acquire) == epoch {
                if !current.serves(catalog, epoch) {
                    *current = Generation {
                        catalog: Arc::downgrade(catalog),
                        epoch,
                        started: Instant::now(),
                        rows: HashMap::new(),
                        light: HashMap::new(),
                    };
                }
                for (id, row) in &found {
                    current.rows.insert(*id, row.clone());
                    let mut light = row.clone();
                    light.geometry = Vec::new();
                    current.light.insert(*id, light);
                }
            }
        }
        Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
    }

    /// Forgets every row (after a mutation).
    pub fn forget(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

/// The units of `ids` (a chain the index gave), from the rows in memory where they are fresh.
pub async fn cached_units(
    ctx: &Context<'_>,
    catalog: &Arc<Catalog>,
    ids: &[UnitId],
) -> ApiResult<Vec<UnitNode>> {
    let internal = |e: async_graphql::Error| ApiError::Internal(e.message);
    let rows = &ctx.data::<Arc<AppState>>().map_err(internal)?.unit_rows;
    let loader = ctx.data::<DataLoader<UnitLoader>>().map_err(internal)?;
    let geometry = ctx.look_ahead().field("geometry").exists();
    let found = rows.get(catalog, loader, ids, geometry).await?;
    Ok(found.into_iter().map(UnitNode).collect())
}
