//! `Subscription`: live updates for open maps, over WebSocket (graphql-transport-ws or
//! graphql-ws on `GET /graphql`).

use async_graphql::{Context, ResultExt, Subscription, ID};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::args;
use super::types::{state, GridSystemNode};
use crate::access::{Needs, Role};

/// The root of subscriptions.
#[derive(Debug, Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// A grid system, each time a committed change gives it a new version (an import; later
    /// an applied plan), so that maps can reload what they show. `system` narrows to one.
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn grid_system_changed(
        &self,
        ctx: &Context<'_>,
        system: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = GridSystemNode>> {
        let only = args::parse_optional_id(system.as_ref(), "system").extend()?;
        let changes = state(ctx).extend()?.changes();
        let all = stream::unfold(changes, |mut changes| async move {
            loop {
                match changes.recv().await {
                    Ok(system) => return Some((system, changes)),
                    // A subscriber that fell behind skips to what is newest.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        });
        Ok(all
            .filter(move |system| std::future::ready(only.is_none_or(|id| id == system.id)))
            .map(GridSystemNode))
    }
}
