//! End-to-end tests: each starts the real `gridmap` binary on a free port with its own
//! database (a temporary SQLite file, and a fresh PostgreSQL database when
//! `GRIDMAP_TEST_POSTGRES_URL` is set) and talks to it over HTTP only.

mod fixtures;
mod nodes;
mod server;

mod access;
mod cli;
mod crs;
mod demo;
mod faults;
mod households;
mod import_errors;
mod import_fuzz;
mod import_locate_export;
mod merge;
mod ogc;
mod rebalance;
mod replicas;
mod subscription;
mod tidy;
mod tiles;
mod webmap;

/// Declares one test per backend for a scenario `fn(&Server)`.
#[macro_export]
macro_rules! on_every_backend {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $scenario() {
                let server = $crate::server::Server::start($crate::server::Backend::Sqlite, false);
                super::$scenario(&server);
            })*
        }
        mod postgres {
            $(#[test]
            fn $scenario() {
                let Some(backend) = $crate::server::Backend::postgres() else { return };
                let server = $crate::server::Server::start(backend, false);
                super::$scenario(&server);
            })*
        }
    };
}
