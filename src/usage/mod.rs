//! Usage accounting (DESIGN §10): periods, prices, the usage report, and the import of
//! every agent's own usage logs (one folder per agent, on the shared driver in `import`),
//! what a provider's rate-limit headers say (`limits`) and the all-machines report.

pub mod agents;
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
