//! Usage accounting (DESIGN §10): periods, prices, the usage report, and the import of
//! Claude Code's own records, and what a provider's rate-limit headers say (`limits`);
//! billing blocks (`blocks`), budget rules (`budget`) and the status line's input and
//! line (`statusline`), all computations without I/O.

pub mod blocks;
pub mod budget;
pub mod claude;
pub mod limits;
pub mod period;
pub mod pricing;
pub mod query;
pub mod statusline;
