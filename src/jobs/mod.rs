//! The built-in jobs: `email` (SES v2), `spawn` (one child worker per run) and `log`.

pub mod email;
pub mod log;
pub mod spawn;

#[cfg(test)]
mod tests;
