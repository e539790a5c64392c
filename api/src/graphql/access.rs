//! Admin-only fields: the audit log (`auditLog`) and token management (`createToken`,
//! `revokeToken`), merged into the query and mutation roots.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, Object, ResultExt, SimpleObject, ID};
use entity::{api_token, audit_entry};

use super::args;
use super::types::{connection, state, ConnectionTotals};
use crate::access::{caller_of, Needs, Role};
use crate::service::audit::{page_entries, rfc3339};
use crate::service::tokens::{create_token, revoke_token};

/// `AuditConnection`.
pub type AuditConnection = Connection<String, AuditEntryNode, ConnectionTotals>;

/// What a token may do.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "Role")]
pub enum RoleValue {
    /// Map data and counts.
    Viewer,
    /// Plus imports, households added, moved and removed, plans, applies, locks.
    Planner,
    /// Plus household details, the audit log and tokens.
    Admin,
}

impl From<RoleValue> for Role {
    fn from(role: RoleValue) -> Self {
        match role {
            RoleValue::Viewer => Role::Viewer,
            RoleValue::Planner => Role::Planner,
            RoleValue::Admin => Role::Admin,
        }
    }
}

impl From<Role> for RoleValue {
    fn from(role: Role) -> Self {
        match role {
            Role::Viewer => RoleValue::Viewer,
            Role::Planner => RoleValue::Planner,
            Role::Admin => RoleValue::Admin,
        }
    }
}

/// One change, as the audit log records it.
pub struct AuditEntryNode(pub audit_entry::Model);

#[Object(name = "AuditEntry")]
impl AuditEntryNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// When (RFC 3339, UTC, milliseconds).
    async fn at(&self) -> String {
        rfc3339(self.0.at)
    }

    /// Who: `token 3 (name)`, `anonymous` or `cli`.
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    /// The mutation: `importUnits`, `addHousehold`, `applyRebalancePlan`, `createToken`, ...
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// The grid system changed (or counted in, for households); null for tokens.
    async fn system(&self) -> Option<ID> {
        self.0.system_id.map(|id| ID(id.to_string()))
    }

    async fn version_before(&self) -> Option<i32> {
        self.0.version_before
    }

    async fn version_after(&self) -> Option<i32> {
        self.0.version_after
    }

    /// A short summary in words.
    async fn details(&self) -> &str {
        &self.0.details
    }
}

/// A token as listed: never the token itself.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "ApiToken")]
pub struct TokenNode {
    pub id: ID,
    pub name: String,
    pub role: RoleValue,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub revoked: bool,
}

impl TokenNode {
    fn from_row(row: &api_token::Model) -> async_graphql::Result<TokenNode> {
        let holder = crate::service::tokens::holder(row).extend()?;
        Ok(TokenNode {
            id: ID(row.id.to_string()),
            name: row.name.clone(),
            role: holder.role.into(),
            created_at: rfc3339(row.created_at),
            revoked: row.revoked_at.is_some(),
        })
    }
}

/// A new token, shown this once.
#[derive(SimpleObject, Debug, Clone)]
pub struct CreatedToken {
    /// Send it as `Authorization: Bearer <token>`; it cannot be shown again.
    pub token: String,
    #[graphql(name = "apiToken")]
    pub info: TokenNode,
}

/// Admin queries.
#[derive(Debug, Default)]
pub struct AccessQuery;

#[Object]
impl AccessQuery {
    /// Every change made, newest first (admins only).
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<AuditConnection> {
        let state = state(ctx).extend()?;
        let first = args::page_size(first).extend()?;
        let after_id = args::id_cursor(after.as_deref()).extend()?;
        let page = page_entries(&state.db, after_id, first).await.extend()?;
        Ok(connection(
            page,
            after.is_some(),
            |e| e.id.to_string(),
            AuditEntryNode,
        ))
    }

    /// Every token, revoked ones too (admins only).
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn api_tokens(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TokenNode>> {
        let state = state(ctx).extend()?;
        let rows = crate::service::tokens::list_tokens(&state.db)
            .await
            .extend()?;
        rows.iter().map(TokenNode::from_row).collect()
    }
}

/// Admin mutations.
#[derive(Debug, Default)]
pub struct AccessMutation;

#[Object]
impl AccessMutation {
    /// A new token with `role`; the answer holds the token, shown this once (admins only).
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn create_token(
        &self,
        ctx: &Context<'_>,
        role: RoleValue,
        name: String,
    ) -> async_graphql::Result<CreatedToken> {
        let state = state(ctx).extend()?;
        let (row, token) = create_token(&state.db, role.into(), &name, &caller_of(ctx).actor())
            .await
            .extend()?;
        Ok(CreatedToken {
            token,
            info: TokenNode::from_row(&row)?,
        })
    }

    /// Revokes a token at once (admins only).
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn revoke_token(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<TokenNode> {
        let state = state(ctx).extend()?;
        let id = args::parse_id(&id, "id").extend()?;
        let row = revoke_token(&state.db, id, &caller_of(ctx).actor())
            .await
            .extend()?;
        state.tokens.clear();
        TokenNode::from_row(&row)
    }
}
