//! The server's settings: defaults here, overridden by environment variables, overridden by
//! command-line flags (clap merges the last two, see `cli`).

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

/// Everything `gridmap serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on; port 0 picks a free port (announced on standard output).
    pub addr: String,
    /// sea-orm connection URL: `sqlite://file.db?mode=rwc` or `postgres://host/db`.
    pub database_url: String,
    /// Load the demo city when the database holds no unit.
    pub demo_when_empty: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: DEFAULT_ADDR.to_owned(),
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            demo_when_empty: true,
        }
    }
}
