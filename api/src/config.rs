//! The server's settings: defaults here, overridden by environment variables, overridden by
//! command-line flags (clap merges the last two, see `cli`).

use std::time::Duration;

use crate::access::AnonymousAccess;

/// Where the server listens unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// The embedded default database: a SQLite file in the working directory, created if missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://gridmap.db?mode=rwc";
/// Largest page of `units`, `children` and `households` a client may ask for.
pub const MAX_PAGE_SIZE: usize = 1000;
/// Page size when the client gives none.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// GraphQL query depth limit: deep enough for `locate { ancestors { children { ... } } }`.
pub const MAX_QUERY_DEPTH: usize = 12;
/// GraphQL query complexity limit.
pub const MAX_QUERY_COMPLEXITY: usize = 20_000;

/// Largest `POST /graphql` body, in bytes (64 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Most features one GraphQL import may hold.
pub const DEFAULT_MAX_IMPORT_FEATURES: usize = 200_000;
/// How long a GraphQL query (not a mutation) may run before it is cancelled.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The limits a request must keep within; each exceeded one answers its own error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest `POST /graphql` body in bytes (`LIMIT_EXCEEDED`, HTTP 413).
    pub body_bytes: usize,
    /// Most features in one `importUnits`/`importHouseholds` (`LIMIT_EXCEEDED`).
    pub import_features: usize,
    /// Longest a query or subscription setup may run (`TIMEOUT`); mutations are not cut off,
    /// since stopping one halfway through its writes would gain nothing.
    pub query_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: DEFAULT_MAX_BODY_BYTES,
            import_features: DEFAULT_MAX_IMPORT_FEATURES,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
        }
    }
}

/// Everything `gridmap serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on; port 0 picks a free port (announced on standard output).
    pub addr: String,
    /// sea-orm connection URL: `sqlite://file.db?mode=rwc` or `postgres://host/db`.
    pub database_url: String,
    /// Load the demo city when the database holds no unit.
    pub demo_when_empty: bool,
    /// What clients without a token may do.
    pub anonymous: AnonymousAccess,
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: DEFAULT_ADDR.to_owned(),
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            demo_when_empty: true,
            anonymous: AnonymousAccess::default(),
            limits: Limits::default(),
        }
    }
}
