//! GridMap's server: the GraphQL schema, the HTTP routes and the `gridmap` command line, over
//! the geometry engine (`geodata`) and the stored tables (`entity`, `migration`).
//!
//! `main.rs` only calls [`cli::run`]; tests build the same server with [`serve`] or the same
//! routes with [`http::configure`].

pub mod access;
pub mod bench;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http;
pub mod ogc;
pub mod replicas;
pub mod service;
pub mod state;
pub mod tiles;
pub mod webmap;

use std::sync::Arc;

use actix_web::web::Data;
use actix_web::{App, HttpServer};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::ApiResult;
use crate::state::AppState;

/// Runs the server until it is stopped: connects and migrates, binds (announcing
/// `listening on http://ADDR` on standard output, so `--addr 127.0.0.1:0` can be used), then
/// loads the index in the background; `/healthz` answers 200 once it is loaded.
pub async fn serve(config: Config) -> std::io::Result<()> {
    let db = db::connect(&config.database_url)
        .await
        .map_err(std::io::Error::other)?;
    let state = Arc::new(AppState::new(db));
    let schema = graphql::build_schema(Arc::clone(&state), config.limits);
    let app_state = Data::from(Arc::clone(&state));
    let (limits, anonymous) = (config.limits, config.anonymous);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(Data::new(schema.clone()))
            .app_data(app_state.clone())
            .app_data(Data::new(limits))
            .app_data(Data::new(anonymous))
            .wrap(actix_web::middleware::from_fn(http::authenticate))
            .configure(http::configure)
    })
    .bind(&config.addr)?;
    for addr in server.addrs() {
        println!("listening on http://{addr}");
    }
    let loader_state = Arc::clone(&state);
    tokio::spawn(async move {
        match load(&loader_state, config.demo_when_empty).await {
            // Other servers (or the command line) may write to the same database.
            Ok(()) => replicas::follow(loader_state).await,
            Err(error) => {
                tracing::error!(%error, ?error, "could not load the index; stopping");
                std::process::exit(1);
            }
        }
    });
    server.run().await
}

/// Makes sure the default grid system exists, loads the demo city into an empty database if
/// asked to, and swaps in the catalog, which shows the grid systems at the versions read just
/// before it was loaded (a change committed in between only causes one reload too many).
pub async fn load(state: &AppState, demo_when_empty: bool) -> ApiResult<()> {
    service::systems::ensure_default_system(&state.db).await?;
    if demo_when_empty && service::demo::is_empty(&state.db).await? {
        service::demo::load_demo(&state.db, geodata::demo::DemoSize::Default).await?;
    }
    let versions = replicas::read_versions(&state.db).await?;
    let started = std::time::Instant::now();
    let catalog = Catalog::load(&state.db).await?;
    tracing::info!(elapsed = ?started.elapsed(), "index loaded");
    state.set_loaded_catalog(catalog, versions);
    Ok(())
}
