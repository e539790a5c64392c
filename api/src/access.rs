//! Who may do what. Every request has a [`Caller`]: a bearer token's holder with its [`Role`]
//! (`viewer` < `planner` < `admin`), or an anonymous client, whose role the
//! [`AnonymousAccess`] setting decides (by default viewer on loopback, nothing elsewhere).
//! GraphQL fields check with the [`Needs`] guard; REST routes with [`check_route`].
//!
//! Tokens are 32 random bytes from the operating system, shown once as `gm_` and 64 hex
//! digits; only their SHA-256 is stored (a token is high-entropy, so a fast hash suffices).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::service::audit::Actor;

/// What a token (or an anonymous client) may do; each role may do all that the ones below do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Map data and counts: units, geometry, `locate`, downloads, tiles, plans.
    Viewer,
    /// Plus changes: imports, households added, moved and removed, plans, applies, locks.
    Planner,
    /// Plus household details, the audit log and token management.
    Admin,
}

impl Role {
    /// The name stored and typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Planner => "planner",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "planner" => Ok(Role::Planner),
            "admin" => Ok(Role::Admin),
            other => Err(format!("{other:?} is not a role: viewer, planner or admin")),
        }
    }
}

/// What clients without a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnonymousAccess {
    /// Viewer for clients connecting from a loopback address, nothing for the others.
    #[default]
    Loopback,
    /// Nothing: every request needs a token (except `/healthz` and the web map's page).
    None,
    /// Viewer for everyone.
    Viewer,
}

impl AnonymousAccess {
    /// The role of an anonymous client connecting from `peer`.
    pub fn role_for(self, peer: Option<IpAddr>) -> Option<Role> {
        match self {
            AnonymousAccess::Viewer => Some(Role::Viewer),
            AnonymousAccess::None => None,
            AnonymousAccess::Loopback => peer
                .is_some_and(|ip| ip.to_canonical().is_loopback())
                .then_some(Role::Viewer),
        }
    }
}

impl FromStr for AnonymousAccess {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "loopback" => Ok(AnonymousAccess::Loopback),
            "none" => Ok(AnonymousAccess::None),
            "viewer" => Ok(AnonymousAccess::Viewer),
            other => Err(format!(
                "{other:?}: anonymous access is loopback, none or viewer"
            )),
        }
    }
}

/// A stored token's holder, as found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHolder {
    pub id: i64,
    pub name: String,
    pub role: Role,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No token; the role the anonymous setting gives this client, if any.
    Anonymous(Option<Role>),
    /// A valid token's holder.
    Token(TokenHolder),
    /// The command line, which has the database in hand anyway.
    Cli,
}

impl Caller {
    /// The caller's role, if any.
    pub fn role(&self) -> Option<Role> {
        match self {
            Caller::Anonymous(role) => *role,
            Caller::Token(holder) => Some(holder.role),
            Caller::Cli => Some(Role::Admin),
        }
    }

    /// `Ok` when the caller's role is `needed` or above; otherwise `UNAUTHENTICATED` for an
    /// anonymous caller (a token would help) and `FORBIDDEN` for a token holder.
    pub fn require(&self, needed: Role) -> ApiResult<()> {
        match (self.role(), self) {
            (Some(role), _) if role >= needed => Ok(()),
            (_, Caller::Anonymous(_)) => Err(ApiError::Unauthenticated(format!(
                "this needs a token with the {needed} role or above: send Authorization: Bearer <token>"
            ))),
            (role, _) => Err(ApiError::Forbidden(format!(
                "this needs the {needed} role or above; the token has the {} role",
                role.map_or("no", Role::as_str)
            ))),
        }
    }

    /// How the audit log names the caller.
    pub fn actor(&self) -> Actor {
        match self {
            Caller::Anonymous(_) => Actor::anonymous(),
            Caller::Token(holder) => Actor::token(holder.id, &holder.name),
            Caller::Cli => Actor::cli(),
        }
    }
}

/// The role a REST request needs, by path: `None` for the public routes (health, GraphiQL and
/// GraphQL, whose fields check for themselves, the web map's page and assets); viewer for
/// everything else (GeoJSON, OGC API, tiles, crosswalks and whatever is added later).
pub fn required_role(path: &str) -> Option<Role> {
    let public = path == "/healthz"
        || path == "/graphql"
        || path.starts_with("/graphql/")
        || path == "/map"
        || path.starts_with("/map/")
        || path == "/favicon.ico";
    (!public).then_some(Role::Viewer)
}

/// Whether `caller` may make a REST request for `path`.
pub fn check_route(path: &str, caller: &Caller) -> ApiResult<()> {
    match required_role(path) {
        Some(role) => caller.require(role),
        None => Ok(()),
    }
}

/// The GraphQL guard: `#[graphql(guard = "Needs(Role::Planner)")]`. A request without a
/// [`Caller`] in its data is anonymous with no role.
#[derive(Debug, Clone, Copy)]
pub struct Needs(pub Role);

impl async_graphql::Guard for Needs {
    async fn check(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<()> {
        use async_graphql::ErrorExtensions;
        caller_of(ctx).require(self.0).map_err(|e| e.extend())
    }
}

/// The caller a GraphQL request carries (anonymous without a role when it carries none).
pub fn caller_of<'a>(ctx: &async_graphql::Context<'a>) -> &'a Caller {
    const NOBODY: &Caller = &Caller::Anonymous(None);
    ctx.data_opt::<Caller>().unwrap_or(NOBODY)
}

/// The text of an `Authorization` header's bearer token, if it holds one.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A new token: `gm_` and 64 hex digits of operating-system randomness.
///
/// # Errors
/// `INTERNAL` when the operating system has no randomness to give.
pub fn new_token() -> ApiResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness for a token: {e}")))?;
    Ok(format!("gm_{}", hex(&bytes)))
}

/// The stored form of a token: its SHA-256 in lower-case hex.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn anonymous_clients_are_viewers_on_loopback_only_by_default() {
        let setting = AnonymousAccess::default();
        assert_eq!(setting.role_for(ip("127.0.0.1")), Some(Role::Viewer));
        assert_eq!(setting.role_for(ip("::1")), Some(Role::Viewer));
        assert_eq!(setting.role_for(ip("::ffff:127.0.0.1")), Some(Role::Viewer));
        assert_eq!(setting.role_for(ip("10.0.0.7")), None);
        assert_eq!(setting.role_for(ip("2001:db8::1")), None);
        assert_eq!(setting.role_for(None), None);
        assert_eq!(AnonymousAccess::None.role_for(ip("127.0.0.1")), None);
        assert_eq!(
            AnonymousAccess::Viewer.role_for(ip("10.0.0.7")),
            Some(Role::Viewer)
        );
    }

    #[test]
    fn anonymous_clients_off_loopback_are_refused_the_data_routes_but_not_health() {
        let remote = Caller::Anonymous(AnonymousAccess::Loopback.role_for(ip("192.0.2.1")));
        for path in [
            "/geojson/units",
            "/geojson/plans/3",
            "/ogc",
            "/ogc/collections/grid-1/items",
            "/tiles/1/12/3000/1700.mvt",
            "/tiles/1.json",
            "/crosswalk/2.csv",
            "/anything-new",
        ] {
            let refused = check_route(path, &remote).expect_err(path);
            assert_eq!(refused.code(), "UNAUTHENTICATED", "{path}");
        }
        for path in [
            "/healthz",
            "/graphql",
            "/graphql/schema.graphql",
            "/map",
            "/map/assets/map.js",
        ] {
            assert!(check_route(path, &remote).is_ok(), "{path}");
        }
        let local = Caller::Anonymous(AnonymousAccess::Loopback.role_for(ip("127.0.0.1")));
        assert!(check_route("/ogc/collections", &local).is_ok());
        assert!(check_route("/tiles/1/0/0/0.mvt", &local).is_ok());
    }

    #[test]
    fn token_holders_below_the_role_needed_are_forbidden_not_unauthenticated() {
        let holder = |role| {
            Caller::Token(TokenHolder {
                id: 1,
                name: "t".to_owned(),
                role,
            })
        };
        assert!(holder(Role::Planner).require(Role::Planner).is_ok());
        assert!(holder(Role::Admin).require(Role::Planner).is_ok());
        let refused = holder(Role::Viewer).require(Role::Planner);
        assert_eq!(refused.map_err(|e| e.code()), Err("FORBIDDEN"));
        let refused = Caller::Anonymous(Some(Role::Viewer)).require(Role::Planner);
        assert_eq!(refused.map_err(|e| e.code()), Err("UNAUTHENTICATED"));
        assert!(Caller::Cli.require(Role::Admin).is_ok());
    }

    #[test]
    fn tokens_are_random_and_stored_as_their_sha256() {
        let (a, b) = (new_token().expect("a token"), new_token().expect("a token"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 64);
        assert!(a.starts_with("gm_"));
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(bearer("Bearer gm_1"), Some("gm_1"));
        assert_eq!(bearer("bearer  gm_1 "), Some("gm_1"));
        assert_eq!(bearer("Basic dXNlcg=="), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
