//! Starting the real binary and talking to it. Every server gets an admin token (made with
//! `gridmap token create` before it starts) that the helpers send unless told otherwise
//! ([`Auth`]).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The environment variable naming a PostgreSQL server for the database tests.
pub const POSTGRES_URL_VAR: &str = "GRIDMAP_TEST_POSTGRES_URL";

/// Where a test server keeps its data.
pub enum Backend {
    Sqlite,
    /// The URL of a PostgreSQL server (any database on it); each server gets a fresh one.
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend if `GRIDMAP_TEST_POSTGRES_URL` is set; otherwise says that the
    /// test is skipped.
    pub fn postgres() -> Option<Backend> {
        match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                eprintln!("skipped: {POSTGRES_URL_VAR} is unset, so the PostgreSQL run of this test did not happen");
                None
            }
        }
    }
}

/// A running `gridmap serve`, stopped and cleaned up on drop.
pub struct Server {
    child: Child,
    pub base: String,
    /// The database the server uses, for the command line.
    pub database_url: String,
    /// The admin token the helpers send by default.
    pub admin_token: String,
    scratch: PathBuf,
    postgres: Option<(String, String)>,
}

/// Whose credentials a request carries.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// The server's admin token.
    Admin,
    /// No `Authorization` header.
    Anonymous,
    /// `Authorization: Bearer <this>`.
    Bearer(&'a str),
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub fn unique_name() -> String {
    format!(
        "gridmap_e2e_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst),
        Instant::now().elapsed().as_nanos() % 1000
    )
}

/// Builds the binary once per test run (a no-op when it is fresh) and returns its path.
pub fn binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the tests crate sits in the workspace")
            .to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "api",
                "--bin",
                "gridmap",
                "--message-format=json",
            ])
            .current_dir(&workspace)
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "building gridmap failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "gridmap")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the gridmap executable")
    })
}

impl Server {
    /// Starts `gridmap serve --addr 127.0.0.1:0` on a new database and waits for
    /// `/healthz`. With `demo`, the demo city is loaded; otherwise the database starts empty.
    pub fn start(backend: Backend, demo: bool) -> Server {
        Server::start_with(backend, demo, &[])
    }

    /// [`Server::start`] with more `gridmap serve` flags (limits, the anonymous setting).
    pub fn start_with(backend: Backend, demo: bool, flags: &[&str]) -> Server {
        let scratch = std::env::temp_dir().join(unique_name());
        std::fs::create_dir_all(&scratch).expect("scratch directory");
        let (database_url, postgres) = match backend {
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
        let admin_token = create_token(&database_url, "admin");
        let mut command = Command::new(binary());
        command
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--database-url",
                &database_url,
            ])
            .current_dir(&scratch)
            .args(flags)
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
        let server = Server {
            child,
            base,
            database_url,
            admin_token,
            scratch,
            postgres,
        };
        server.wait_until_healthy(Duration::from_secs(if demo { 300 } else { 30 }));
        server
    }

    fn wait_until_healthy(&self, limit: Duration) {
        let started = Instant::now();
        loop {
            if let Ok(response) = ureq::get(&self.url("/healthz")).call() {
                if response.status() == 200 {
                    return;
                }
            }
            assert!(started.elapsed() < limit, "/healthz never answered 200");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Posts a GraphQL request as the admin and returns the whole response body.
    pub fn graphql(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql_as(Auth::Admin, query, variables);
        assert_eq!(status, 200, "{body:#}");
        body
    }

    /// Posts a GraphQL request with `auth`'s credentials: the status and the body.
    pub fn graphql_as(&self, auth: Auth, query: &str, variables: Value) -> (u16, Value) {
        let request = self.authorized(ureq::post(&self.url("/graphql")), auth);
        let response = match request.send_json(json!({ "query": query, "variables": variables })) {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(e) => panic!("POST /graphql failed: {e}"),
        };
        let status = response.status();
        (status, response.into_json().expect("GraphQL answers JSON"))
    }

    /// Creates a token with `role` through GraphQL, as the admin.
    pub fn token(&self, role: &str) -> String {
        let data = self.query(
            "mutation($role: Role!) { createToken(role: $role, name: \"test\") { token } }",
            json!({"role": role.to_uppercase()}),
        );
        data["createToken"]["token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    fn authorized(&self, request: ureq::Request, auth: Auth) -> ureq::Request {
        match auth {
            Auth::Admin => request.set("Authorization", &format!("Bearer {}", self.admin_token)),
            Auth::Anonymous => request,
            Auth::Bearer(token) => request.set("Authorization", &format!("Bearer {token}")),
        }
    }

    /// Posts a GraphQL request that must succeed, returning `data`.
    pub fn query(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables);
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Gets a path as the admin: status, content type and body text.
    pub fn get(&self, path: &str) -> (u16, String, String) {
        self.get_as(Auth::Admin, path)
    }

    /// Gets a path with `auth`'s credentials: status, content type and body text.
    pub fn get_as(&self, auth: Auth, path: &str) -> (u16, String, String) {
        let response = match self.authorized(ureq::get(&self.url(path)), auth).call() {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(e) => panic!("GET {path} failed: {e}"),
        };
        let status = response.status();
        let content_type = response
            .header("content-type")
            .unwrap_or_default()
            .to_owned();
        let body = response.into_string().expect("a text body");
        (status, content_type, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.scratch);
        if let Some((url, name)) = &self.postgres {
            psql(url, &format!("DROP DATABASE IF EXISTS {name}"));
        }
    }
}

/// Runs `gridmap token create --role <role>` on a database and returns the last word it
/// printed: the token.
pub fn create_token(database_url: &str, role: &str) -> String {
    let output = Command::new(binary())
        .args([
            "token",
            "create",
            "--role",
            role,
            "--database-url",
            database_url,
        ])
        .env("GRIDMAP_LOG", "warn")
        .output()
        .expect("gridmap token create runs");
    assert!(
        output.status.success(),
        "gridmap token create failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .last()
        .expect("a token as the last word")
        .to_owned()
}

fn psql(url: &str, sql: &str) {
    let status = Command::new("psql")
        .args([url, "-q", "-c", sql])
        .status()
        .expect("psql runs (install postgresql-client)");
    assert!(status.success(), "psql failed: {sql}");
}
