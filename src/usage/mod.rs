//! Usage accounting (DESIGN §10): periods, prices, the usage report, and the import of
//! every agent's own usage logs (one folder per agent, on the shared driver in `import`),
//! what a provider's rate-limit headers say (`limits`), the all-machines report; billing
//! blocks (`blocks`), budget rules (`budget`) and the status line's input and line
//! (`statusline`), all computations without I/O.

pub mod agents;
pub mod blocks;
pub mod budget;
pub mod claude;
pub mod codex;
pub mod droid;
pub mod gemini;
pub mod grok;
pub mod import;
pub mod limits;
pub mod logs;
pub mod machines;
pub mod opencode;
pub mod period;
pub mod pricing;
pub mod query;
pub mod qwen;
pub mod retention;
pub mod statusline;
