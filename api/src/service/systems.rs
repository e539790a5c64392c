//! Grid systems: the default one that exists from the start, lookups, versions.

use entity::grid_system;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::error::{ApiError, ApiResult};
use crate::replicas::Versions;

/// The name of the grid system created with a new database.
pub const DEFAULT_SYSTEM_NAME: &str = "default";

/// Creates the default grid system if the database has none.
pub async fn ensure_default_system(db: &impl ConnectionTrait) -> ApiResult<grid_system::Model> {
    if let Some(system) = grid_system::Entity::find()
        .filter(grid_system::Column::IsDefault.eq(true))
        .one(db)
        .await?
    {
        return Ok(system);
    }
    let created = grid_system::ActiveModel {
        name: Set(DEFAULT_SYSTEM_NAME.to_owned()),
        department: Set(None),
        version: Set(1),
        is_default: Set(true),
        ..Default::default()
    }
    .insert(db)
    .await?;
    crate::service::history::note_version(db, created.id, created.version, "created").await?;
    Ok(created)
}

/// Every grid system, oldest first.
pub async fn list_systems(db: &impl ConnectionTrait) -> ApiResult<Vec<grid_system::Model>> {
    Ok(grid_system::Entity::find()
        .order_by_asc(grid_system::Column::Id)
        .all(db)
        .await?)
}

/// The named system, or the default one when `id` is `None`.
pub async fn resolve_system(
    db: &impl ConnectionTrait,
    id: Option<i64>,
) -> ApiResult<grid_system::Model> {
    let query = match id {
        Some(id) => grid_system::Entity::find_by_id(id),
        None => grid_system::Entity::find().filter(grid_system::Column::IsDefault.eq(true)),
    };
    query.one(db).await?.ok_or_else(|| match id {
        Some(id) => ApiError::NotFound(format!("grid system {id} does not exist")),
        None => ApiError::NotFound("no default grid system".to_owned()),
    })
}

/// Checks, first thing in a write's transaction, that every grid system is at the version the
/// catalog the write is computed from shows, and keeps them there until the transaction ends:
/// one `UPDATE … RETURNING` locks the systems' rows (PostgreSQL) or takes the database's write
/// lock (SQLite) and reads their versions, so another process's change either committed before
/// (and is seen here) or waits.
///
/// # Errors
/// `CONFLICT` when another process has changed a grid system that this server has not caught
/// up with yet; nothing is written then.
pub async fn hold_shown_versions(db: &impl ConnectionTrait, shown: &Versions) -> ApiResult<()> {
    let current: Versions = grid_system::Entity::update_many()
        .col_expr(
            grid_system::Column::Version,
            Expr::col(grid_system::Column::Version),
        )
        .exec_with_returning(db)
        .await?
        .into_iter()
        .map(|system| (system.id, system.version))
        .collect();
    let mut ids = current.keys().chain(shown.keys());
    let Some(&id) = ids.find(|id| current.get(id) != shown.get(id)) else {
        return Ok(());
    };
    let state = |versions: &Versions| {
        versions
            .get(&id)
            .map_or("none".to_owned(), |v| format!("version {v}"))
    };
    Err(ApiError::Conflict {
        message: format!(
            "grid system {id} was changed by another process (the database has {}, this server \
             shows {}); nothing was written: retry in a second, once this server has caught up",
            state(&current),
            state(shown)
        ),
        feature: None,
    })
}

/// Adds one to a system's version, returning the system as it is then. Call it in a
/// transaction begun by [`super::begin_write`], which holds the version where the catalog
/// showed it.
pub async fn bump_version(
    db: &impl ConnectionTrait,
    system_id: i64,
) -> ApiResult<grid_system::Model> {
    grid_system::Entity::update_many()
        .col_expr(
            grid_system::Column::Version,
            Expr::col(grid_system::Column::Version).add(1),
        )
        .filter(grid_system::Column::Id.eq(system_id))
        .exec(db)
        .await?;
    resolve_system(db, Some(system_id)).await
}
