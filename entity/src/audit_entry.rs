//! `audit_entry`: one change made through GraphQL or the command line, who made it and the
//! grid system's version before and after.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "audit_entry")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// `token 3 (name)`, `anonymous` or `cli`.
    pub actor: String,
    pub token_id: Option<i64>,
    /// The mutation's name, e.g. `importUnits`.
    pub action: String,
    pub system_id: Option<i64>,
    pub version_before: Option<i32>,
    pub version_after: Option<i32>,
    #[sea_orm(column_type = "Text")]
    pub details: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
