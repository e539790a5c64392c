//! Several server processes over one database, for the fault and replica tests: a
//! [`Database`] outlives the [`Node`]s (`gridmap serve` processes) started on it, so a node
//! can be killed with SIGKILL and another started in its place, or two run side by side. The
//! database can also be asked directly (`psql`, `sqlite3`) whether a write transaction is open
//! and what its tables hold.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::server::{binary, unique_name, Backend};

/// A database for nodes to share: a SQLite file in a scratch directory, or a fresh
/// PostgreSQL database (dropped at the end).
pub struct Database {
    pub url: String,
    scratch: PathBuf,
    /// (the server's URL, the database's name)
    postgres: Option<(String, String)>,
}

impl Database {
    pub fn create(backend: Backend) -> Database {
        let scratch = std::env::temp_dir().join(unique_name());
        std::fs::create_dir_all(&scratch).expect("scratch directory");
        let (url, postgres) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}?mode=rwc", scratch.join("gridmap.db").display()),
                None,
            ),
            Backend::Postgres(url) => {
                let name = unique_name();
                psql(&url, &format!("CREATE DATABASE {name}"));
                let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
                (format!("{base}/{name}"), Some((url.clone(), name)))
            }
        };
        Database {
            url,
            scratch,
            postgres,
        }
    }

    fn sqlite_file(&self) -> PathBuf {
        self.scratch.join("gridmap.db")
    }

    /// Runs a `gridmap` subcommand on this database.
    pub fn gridmap(&self, args: &[&str]) -> Output {
        Command::new(binary())
            .args(args)
            .args(["--database-url", &self.url])
            .current_dir(&self.scratch)
            .env("GRIDMAP_LOG", "warn")
            .stderr(Stdio::inherit())
            .output()
            .expect("gridmap runs")
    }

    /// A new API token with `role` (`gridmap token create` prints it as its last word).
    pub fn token(&self, role: &str) -> String {
        let output = self.gridmap(&["token", "create", "--role", role]);
        assert!(output.status.success(), "gridmap token create failed");
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .last()
            .expect("a token")
            .to_owned()
    }

    /// The first column of the first row of `query`, as text; `None` when SQLite's command
    /// line shell is not installed.
    pub fn sql(&self, query: &str) -> Option<String> {
        let output = match &self.postgres {
            Some(_) => Command::new("psql")
                .args([&self.url, "-X", "-q", "-t", "-A", "-c", query])
                .output()
                .expect("psql runs"),
            None => match Command::new("sqlite3")
                .arg(self.sqlite_file())
                .arg(query)
                .output()
            {
                Ok(output) => output,
                Err(_) => return None,
            },
        };
        assert!(
            output.status.success(),
            "{query}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Whether some process holds a write transaction open on this database right now: on
    /// PostgreSQL a session whose transaction has written (it has a transaction id); on SQLite
    /// the write lock (another `BEGIN IMMEDIATE` is refused at once).
    pub fn write_transaction_open(&self) -> bool {
        match &self.postgres {
            Some((_, name)) => {
                let open = self
                    .sql(&format!(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' AND backend_xid IS NOT NULL"
                    ))
                    .unwrap_or_default();
                open != "0"
            }
            None => {
                let Ok(output) = Command::new("sqlite3")
                    .args(["-cmd", ".timeout 0"])
                    .arg(self.sqlite_file())
                    .arg("BEGIN IMMEDIATE; ROLLBACK;")
                    .output()
                else {
                    return false;
                };
                !output.status.success()
                    && String::from_utf8_lossy(&output.stderr).contains("locked")
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
        if let Some((url, name)) = &self.postgres {
            psql(url, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Whether `sqlite3` can be run (the SQLite checks from outside need it).
pub fn sqlite_shell() -> bool {
    Command::new("sqlite3").arg("-version").output().is_ok()
}

fn psql(url: &str, sql: &str) {
    let status = Command::new("psql")
        .args([url, "-X", "-q", "-c", sql])
        .status()
        .expect("psql runs (install postgresql-client)");
    assert!(status.success(), "psql failed: {sql}");
}

/// One `gridmap serve` on a [`Database`]; killed with SIGKILL when dropped.
pub struct Node {
    child: Child,
    pub base: String,
    token: Option<String>,
}

impl Node {
    /// Starts `gridmap serve --addr 127.0.0.1:0` on `database` and waits for `/healthz`.
    /// Requests carry `token` as a bearer token when given.
    pub fn start(database: &Database, demo: bool, token: Option<&str>) -> Node {
        let mut command = Command::new(binary());
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--database-url"])
            .arg(&database.url)
            .current_dir(&database.scratch)
            .env("GRIDMAP_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if !demo {
            command.arg("--no-demo");
        }
        let mut child = command.spawn().expect("gridmap starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let base = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("listening on ").map(str::to_owned))
            .expect("gridmap announces its address");
        std::thread::spawn(move || lines.for_each(drop));
        let node = Node {
            child,
            base,
            token: token.map(str::to_owned),
        };
        let started = Instant::now();
        while ureq::get(&format!("{}/healthz", node.base))
            .call()
            .map_or(true, |r| r.status() != 200)
        {
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "/healthz never answered 200"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        node
    }

    /// Kills the process with SIGKILL (no chance to clean up) and waits for it to be gone.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL is sent");
        self.child.wait().expect("the process is reaped");
    }

    /// A request to `/graphql` with the node's token, ready to send.
    pub fn request(&self) -> ureq::Request {
        let request = ureq::post(&format!("{}/graphql", self.base));
        match &self.token {
            Some(token) => request.set("Authorization", &format!("Bearer {token}")),
            None => request,
        }
    }

    /// Posts a GraphQL request that must succeed, returning `data`.
    pub fn query(&self, query: &str, variables: Value) -> Value {
        let body: Value = self
            .request()
            .send_json(json!({ "query": query, "variables": variables }))
            .unwrap_or_else(|e| panic!("POST /graphql failed: {e}"))
            .into_json()
            .expect("GraphQL answers JSON");
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
