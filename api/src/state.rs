//! What every request shares: the database, the current catalog of indexes and the grid
//! system versions it shows, the lock that serialises writers (one import or mutation at a time
//! keeps counts and codes exact), and the channel that tells live maps about changes.

use std::sync::{Arc, RwLock};

use entity::grid_system;
use sea_orm::DatabaseConnection;

use crate::catalog::Catalog;
use crate::error::{ApiError, ApiResult};
use crate::replicas::Versions;
use crate::service::tokens::TokenCache;

/// Changes a slow subscriber may fall behind by before it skips to the newest.
const CHANGES_BUFFER: usize = 64;

/// The server's shared state.
#[derive(Debug)]
pub struct AppState {
    pub db: DatabaseConnection,
    catalog: RwLock<Option<Arc<Catalog>>>,
    /// The version of each grid system the catalog shows: a write computed from the catalog
    /// commits only if every system is still at that version (another process may have moved
    /// one on), see `service::begin_write`.
    shown: RwLock<Versions>,
    /// Held for the whole of a write, from reading the catalog to swapping in the new one.
    pub writer: tokio::sync::Mutex<()>,
    /// Grid systems as they are after each committed change, for live map subscriptions.
    changes: tokio::sync::broadcast::Sender<grid_system::Model>,
    /// Encoded vector tiles of the current catalog (emptied when it is swapped).
    pub tiles: crate::tiles::TileCache,
    /// Bearer tokens recently found valid.
    pub tokens: TokenCache,
    /// Unit rows for `locate`, kept per catalog and forgotten after each mutation.
    pub unit_rows: crate::graphql::rows::UnitRows,
}

impl AppState {
    /// State whose catalog is not loaded yet: requests get `UNAVAILABLE` until
    /// [`AppState::set_catalog`].
    pub fn new(db: DatabaseConnection) -> Self {
        AppState {
            db,
            catalog: RwLock::new(None),
            shown: RwLock::new(Versions::new()),
            writer: tokio::sync::Mutex::new(()),
            changes: tokio::sync::broadcast::channel(CHANGES_BUFFER).0,
            tiles: crate::tiles::TileCache::default(),
            tokens: TokenCache::default(),
            unit_rows: crate::graphql::rows::UnitRows::default(),
        }
    }

    /// Takes in a change this process committed (with the catalog that shows it swapped in
    /// already, if it changed any unit): `system` carries its new version.
    pub fn committed(&self, system: grid_system::Model) {
        if let Ok(mut shown) = self.shown.write() {
            shown.insert(system.id, system.version);
        }
        self.announce(system);
    }

    /// Tells subscribers that a grid system changed (it carries its new version).
    pub fn announce(&self, system: grid_system::Model) {
        // No subscriber is not an error.
        let _ = self.changes.send(system);
    }

    /// Changes announced from now on.
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<grid_system::Model> {
        self.changes.subscribe()
    }

    /// The current catalog.
    pub fn catalog(&self) -> ApiResult<Arc<Catalog>> {
        self.catalog
            .read()
            .map_err(|_| ApiError::Unavailable)?
            .clone()
            .ok_or(ApiError::Unavailable)
    }

    /// Whether the index is loaded.
    pub fn is_ready(&self) -> bool {
        self.catalog.read().map(|c| c.is_some()).unwrap_or(false)
    }

    /// The version of every grid system that the catalog shows.
    pub fn shown_versions(&self) -> ApiResult<Versions> {
        Ok(self
            .shown
            .read()
            .map_err(|_| ApiError::Unavailable)?
            .clone())
    }

    /// Swaps in a catalog read from the database, which shows the grid systems at `versions`.
    pub fn set_loaded_catalog(&self, catalog: Catalog, versions: Versions) {
        self.set_catalog(catalog);
        if let Ok(mut shown) = self.shown.write() {
            *shown = versions;
        }
    }

    /// Swaps in a new catalog (after a commit).
    pub fn set_catalog(&self, catalog: Catalog) {
        if let Ok(mut current) = self.catalog.write() {
            *current = Some(Arc::new(catalog));
        }
        self.tiles.clear();
    }
}
