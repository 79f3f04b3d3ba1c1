//! Usage accounting (DESIGN §10): periods, prices, the usage report, and the import of
//! Claude Code's own records, and what a provider's rate-limit headers say (`limits`).

pub mod claude;
pub mod limits;
pub mod machines;
pub mod period;
pub mod pricing;
pub mod query;
