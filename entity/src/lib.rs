//! sea-orm entities of GridMap's tables, one module per table, in the shape `sea-orm-cli
//! generate entity` writes (see the README for the command). They carry no GraphQL and no
//! geometry logic: geometry is stored as WKB bytes and decoded by `geodata::encoding`.

pub mod api_token;
pub mod audit_entry;
pub mod code_counter;
pub mod crosswalk;
pub mod grid_system;
pub mod household;
pub mod plan;
pub mod plan_grid;
pub mod system_version;
pub mod unit;
pub mod unit_history;

pub mod prelude {
    //! The entities under short names.
    pub use super::api_token::Entity as ApiToken;
    pub use super::audit_entry::Entity as AuditEntry;
    pub use super::code_counter::Entity as CodeCounter;
    pub use super::crosswalk::Entity as Crosswalk;
    pub use super::grid_system::Entity as GridSystem;
    pub use super::household::Entity as Household;
    pub use super::plan::Entity as Plan;
    pub use super::plan_grid::Entity as PlanGrid;
    pub use super::system_version::Entity as SystemVersion;
    pub use super::unit::Entity as Unit;
    pub use super::unit_history::Entity as UnitHistory;
}
