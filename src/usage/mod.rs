//! Usage accounting (DESIGN §10): periods, prices, the usage report, and the import of
//! Claude Code's own records.

pub mod claude;
pub mod machines;
pub mod period;
pub mod pricing;
pub mod query;
