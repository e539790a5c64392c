//! Batches unit look-ups by id (parents, ancestors, household units): a page of 100 units
//! with their parents costs one query for the parents, not 100.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use entity::unit;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

/// Loads unit rows by id.
pub struct UnitLoader {
    db: DatabaseConnection,
}

impl UnitLoader {
    pub fn new(db: DatabaseConnection) -> Self {
        UnitLoader { db }
    }
}

impl Loader<i64> for UnitLoader {
    type Value = unit::Model;
    type Error = Arc<sea_orm::DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, unit::Model>, Self::Error> {
        let rows = unit::Entity::find()
            .filter(unit::Column::Id.is_in(keys.iter().copied()))
            .all(&self.db)
            .await
            .map_err(Arc::new)?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}
