//! The audit log: one row per change made through GraphQL or the command line (who, when,
//! which mutation, the grid system's version before and after, a short summary), written in
//! the change's own transaction where the service runs one, so that a change and its record
//! commit or vanish together.

use entity::audit_entry;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::error::ApiResult;
use crate::service::units::Page;

/// Who made a change, as the log names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `token 3 (name)`, `anonymous` or `cli`.
    pub name: String,
    pub token_id: Option<i64>,
}

impl Actor {
    /// The command line.
    pub fn cli() -> Actor {
        Actor {
            name: "cli".to_owned(),
            token_id: None,
        }
    }

    /// A client without a token (only when the anonymous setting lets it change anything).
    pub fn anonymous() -> Actor {
        Actor {
            name: "anonymous".to_owned(),
            token_id: None,
        }
    }

    /// A token's holder.
    pub fn token(id: i64, name: &str) -> Actor {
        Actor {
            name: format!("token {id} ({name})"),
            token_id: Some(id),
        }
    }
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The mutation's name (`importUnits`, `applyRebalancePlan`, ...).
    pub action: &'static str,
    pub system_id: Option<i64>,
    pub version_before: Option<i32>,
    pub version_after: Option<i32>,
    /// In words, without personal data (no positions, no person counts).
    pub details: String,
}

impl Change {
    /// A change to no grid system in particular (tokens, ...).
    pub fn new(action: &'static str, details: impl Into<String>) -> Change {
        Change {
            action,
            system_id: None,
            version_before: None,
            version_after: None,
            details: details.into(),
        }
    }

    /// The grid system the change touched and its versions before and after.
    pub fn on_system(mut self, system_id: i64, before: i32, after: i32) -> Change {
        self.system_id = Some(system_id);
        self.version_before = Some(before);
        self.version_after = Some(after);
        self
    }
}

/// Writes one entry, on `db` (the change's transaction where there is one).
pub async fn record(db: &impl ConnectionTrait, actor: &Actor, change: Change) -> ApiResult<()> {
    audit_entry::ActiveModel {
        at: Set(now_millis()),
        actor: Set(actor.name.clone()),
        token_id: Set(actor.token_id),
        action: Set(change.action.to_owned()),
        system_id: Set(change.system_id),
        version_before: Set(change.version_before),
        version_after: Set(change.version_after),
        details: Set(change.details),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A page of entries, newest first, after the entry `after` (an id).
pub async fn page_entries(
    db: &impl ConnectionTrait,
    after: Option<i64>,
    first: usize,
) -> ApiResult<Page<audit_entry::Model>> {
    let total = audit_entry::Entity::find().count(db).await?;
    let mut query = audit_entry::Entity::find();
    if let Some(after) = after {
        query = query.filter(audit_entry::Column::Id.lt(after));
    }
    let items = query
        .order_by_desc(audit_entry::Column::Id)
        .limit(first as u64 + 1)
        .all(db)
        .await?;
    Ok(Page::from_one_more(items, first, total))
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Unix milliseconds as an RFC 3339 UTC timestamp (`2026-11-22T04:11:15.123Z`).
pub fn rfc3339(millis: i64) -> String {
    let (secs, ms) = (millis.div_euclid(1000), millis.rem_euclid(1000));
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_320_675_123), "2026-11-22T04:11:15.123Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }
}
