//! Access: API tokens (stored as the SHA-256 of the token, never the token itself) with their
//! role, and the audit log of every change (who, when, what, a grid system's version before
//! and after).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiToken {
    Table,
    Id,
    Name,
    Role,
    TokenHash,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditEntry {
    Table,
    Id,
    At,
    Actor,
    TokenId,
    Action,
    SystemId,
    VersionBefore,
    VersionAfter,
    Details,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiToken::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ApiToken::Id))
                    .col(string(ApiToken::Name))
                    // `viewer`, `planner` or `admin`.
                    .col(string(ApiToken::Role))
                    // Lower-case hex SHA-256 of the whole token text.
                    .col(string(ApiToken::TokenHash))
                    // Unix milliseconds.
                    .col(big_integer(ApiToken::CreatedAt))
                    .col(big_integer_null(ApiToken::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("api_token_hash")
                    .table(ApiToken::Table)
                    .col(ApiToken::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditEntry::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AuditEntry::Id))
                    // Unix milliseconds.
                    .col(big_integer(AuditEntry::At))
                    // `token 3 (name)`, `anonymous` or `cli`.
                    .col(string(AuditEntry::Actor))
                    .col(big_integer_null(AuditEntry::TokenId))
                    // The mutation's name, e.g. `importUnits`.
                    .col(string(AuditEntry::Action))
                    .col(big_integer_null(AuditEntry::SystemId))
                    .col(integer_null(AuditEntry::VersionBefore))
                    .col(integer_null(AuditEntry::VersionAfter))
                    // A short summary in words.
                    .col(text(AuditEntry::Details))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [AuditEntry::Table.into_iden(), ApiToken::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
