//! API tokens: created (the token is shown once; its SHA-256 is stored), listed, revoked, and
//! looked up by hash for every request that carries one. Look-ups are cached for a few
//! seconds so that a busy client costs no query per request; `revokeToken` empties the
//! cache at once, and a revocation by another process (`gridmap token revoke`) is seen
//! within [`CACHE_FOR`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use entity::api_token;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};

use crate::access::{hash_token, new_token, Role, TokenHolder};
use crate::error::{ApiError, ApiResult};
use crate::service::audit::{self, now_millis, Actor, Change};
use crate::state::AppState;

/// How long a token found valid is trusted without asking the database again.
pub const CACHE_FOR: Duration = Duration::from_secs(5);
/// Cached tokens kept at most; the cache is emptied when it grows past this.
const CACHE_CAPACITY: usize = 10_000;

/// Recently found tokens, by hash.
#[derive(Debug, Default)]
pub struct TokenCache {
    found: Mutex<HashMap<String, (TokenHolder, Instant)>>,
}

impl TokenCache {
    fn get(&self, hash: &str) -> Option<TokenHolder> {
        let found = self.found.lock().ok()?;
        let (holder, at) = found.get(hash)?;
        (at.elapsed() < CACHE_FOR).then(|| holder.clone())
    }

    fn put(&self, hash: String, holder: TokenHolder) {
        if let Ok(mut found) = self.found.lock() {
            if found.len() >= CACHE_CAPACITY {
                found.clear();
            }
            found.insert(hash, (holder, Instant::now()));
        }
    }

    /// Forgets every cached token (after a revocation).
    pub fn clear(&self) {
        if let Ok(mut found) = self.found.lock() {
            found.clear();
        }
    }
}

/// The holder of `token`.
///
/// # Errors
/// `UNAUTHENTICATED` for a token that is unknown or revoked.
pub async fn authenticate(state: &AppState, token: &str) -> ApiResult<TokenHolder> {
    let hash = hash_token(token);
    if let Some(holder) = state.tokens.get(&hash) {
        return Ok(holder);
    }
    let row = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash.as_str()))
        .filter(api_token::Column::RevokedAt.is_null())
        .one(&state.db)
        .await?
        .ok_or_else(|| {
            ApiError::Unauthenticated("the bearer token is unknown or revoked".to_owned())
        })?;
    let holder = holder(&row)?;
    state.tokens.put(hash, holder.clone());
    Ok(holder)
}

/// Creates a token with `role`, audited as made by `actor`; answers the row and the token
/// text, which is not stored and cannot be shown again.
pub async fn create_token(
    db: &DatabaseConnection,
    role: Role,
    name: &str,
    actor: &Actor,
) -> ApiResult<(api_token::Model, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid(
            "name: a token needs a name of 1 to 100 characters",
        ));
    }
    let token = new_token()?;
    let txn = db.begin().await?;
    let row = api_token::ActiveModel {
        name: Set(name.to_owned()),
        role: Set(role.as_str().to_owned()),
        token_hash: Set(hash_token(&token)),
        created_at: Set(now_millis()),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let change = Change::new(
        "createToken",
        format!("token {} ({}) with the {role} role", row.id, row.name),
    );
    audit::record(&txn, actor, change).await?;
    txn.commit().await?;
    Ok((row, token))
}

/// Every token, oldest first.
pub async fn list_tokens(db: &impl ConnectionTrait) -> ApiResult<Vec<api_token::Model>> {
    Ok(api_token::Entity::find()
        .order_by_asc(api_token::Column::Id)
        .all(db)
        .await?)
}

/// Revokes a token (kept, marked revoked, so that the audit log's ids stay meaningful);
/// revoking a revoked token changes nothing.
///
/// # Errors
/// `NOT_FOUND` for an unknown id.
pub async fn revoke_token(
    db: &DatabaseConnection,
    id: i64,
    actor: &Actor,
) -> ApiResult<api_token::Model> {
    let txn = db.begin().await?;
    let row = api_token::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("token {id} does not exist")))?;
    if row.revoked_at.is_some() {
        return Ok(row);
    }
    api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(now_millis()))
        .filter(api_token::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    let change = Change::new("revokeToken", format!("token {id} ({})", row.name));
    audit::record(&txn, actor, change).await?;
    let row = api_token::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("token {id} does not exist")))?;
    txn.commit().await?;
    Ok(row)
}

/// The holder a stored token names.
pub fn holder(row: &api_token::Model) -> ApiResult<TokenHolder> {
    Ok(TokenHolder {
        id: row.id,
        name: row.name.clone(),
        role: row
            .role
            .parse()
            .map_err(|e: String| ApiError::Internal(format!("token {}: {e}", row.id)))?,
    })
}
