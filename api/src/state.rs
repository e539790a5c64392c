//! What every request shares: the database, the current catalog of indexes, and the lock
//! that serialises writers (one import or mutation at a time keeps counts and codes exact).

use std::sync::{Arc, RwLock};

use sea_orm::DatabaseConnection;

use crate::catalog::Catalog;
use crate::error::{ApiError, ApiResult};

/// The server's shared state.
#[derive(Debug)]
pub struct AppState {
    pub db: DatabaseConnection,
    catalog: RwLock<Option<Arc<Catalog>>>,
    /// Held for the whole of a write, from reading the catalog to swapping in the new one.
    pub writer: tokio::sync::Mutex<()>,
}

impl AppState {
    /// State whose catalog is not loaded yet: requests get `UNAVAILABLE` until
    /// [`AppState::set_catalog`].
    pub fn new(db: DatabaseConnection) -> Self {
        AppState {
            db,
            catalog: RwLock::new(None),
            writer: tokio::sync::Mutex::new(()),
        }
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

    /// Swaps in a new catalog (after a commit).
    pub fn set_catalog(&self, catalog: Catalog) {
        if let Ok(mut current) = self.catalog.write() {
            *current = Some(Arc::new(catalog));
        }
    }
}
