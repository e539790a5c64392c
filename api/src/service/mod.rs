//! Business logic behind the resolvers and the command line: functions taking the connection
//! (or the state) first, so that a whole change runs inside one transaction.

pub mod demo;
pub mod export;
pub mod households;
pub mod import;
pub mod systems;
pub mod units;
pub mod writes;
