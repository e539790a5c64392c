//! `api_token`: a bearer token's SHA-256 and the role it grants; the token itself is never
//! stored.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "api_token")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// `viewer`, `planner` or `admin`.
    pub role: String,
    /// Lower-case hex SHA-256 of the token text.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds; a revoked token is refused.
    pub revoked_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
