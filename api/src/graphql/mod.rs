//! The GraphQL schema: thin resolvers over `service`, wire types converted explicitly from
//! rows (no GraphQL derives on database rows), parents and ancestors batched by a DataLoader.

mod access;
mod args;
mod loader;
mod merge;
mod mutation;
mod plans;
mod query;
pub(crate) mod rows;
mod subscription;
mod types;

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{MergedObject, Schema};

use crate::config::{Limits, MAX_QUERY_COMPLEXITY, MAX_QUERY_DEPTH};
use crate::state::AppState;

pub use mutation::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;

/// Every query: the map's, and the admins'.
#[derive(MergedObject, Debug, Default)]
pub struct Query(QueryRoot, access::AccessQuery);

/// Every mutation: the planners', and the admins'.
#[derive(MergedObject, Debug, Default)]
pub struct Mutation(MutationRoot, access::AccessMutation);

/// GridMap's schema type.
pub type GridMapSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// Builds the schema once, with the shared state, the depth and complexity limits and the
/// request limits (`limits`).
pub fn build_schema(state: Arc<AppState>, limits: Limits) -> GridMapSchema {
    let loader = DataLoader::new(loader::UnitLoader::new(state.db.clone()), tokio::spawn);
    Schema::build(Query::default(), Mutation::default(), SubscriptionRoot)
        .data(state)
        .data(limits)
        .data(loader)
        .limit_depth(MAX_QUERY_DEPTH)
        .limit_complexity(MAX_QUERY_COMPLEXITY)
        .finish()
}
