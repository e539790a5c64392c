//! `code_counter`: the highest code number ever issued per parent and level, so that a retired
//! code is never issued again.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "code_counter")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub system_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub parent_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub level: String,
    pub last_issued: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
