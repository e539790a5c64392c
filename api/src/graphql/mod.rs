//! The GraphQL schema: thin resolvers over `service`, wire types converted explicitly from
//! rows (no GraphQL derives on database rows), parents and ancestors batched by a DataLoader.

mod args;
mod loader;
mod mutation;
mod plans;
mod query;
mod subscription;
mod types;

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::Schema;

use crate::config::{MAX_QUERY_COMPLEXITY, MAX_QUERY_DEPTH};
use crate::state::AppState;

pub use mutation::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;

/// GridMap's schema type.
pub type GridMapSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Builds the schema once, with the shared state and the depth and complexity limits.
pub fn build_schema(state: Arc<AppState>) -> GridMapSchema {
    let loader = DataLoader::new(loader::UnitLoader::new(state.db.clone()), tokio::spawn);
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .data(state)
        .data(loader)
        .limit_depth(MAX_QUERY_DEPTH)
        .limit_complexity(MAX_QUERY_COMPLEXITY)
        .finish()
}
