//! The built-in jobs: `email` (SES v2), `http` (a URL), `lambda` (a function), `spawn` (one
//! child worker per run) and `log`.

pub mod email;
pub mod http;
pub mod lambda;
pub mod log;
pub mod spawn;

use crate::job::Registry;

/// A registry of the built-in jobs: `email`, `http`, `lambda`, `spawn` and `log`. Add your own
/// with [`Registry::register`].
pub fn builtin() -> Registry {
    Registry::empty()
        .register(email::EmailJob)
        .and_then(|r| r.register(http::HttpJob))
        .and_then(|r| r.register(lambda::LambdaJob))
        .and_then(|r| r.register(spawn::SpawnJob))
        .and_then(|r| r.register(log::LogJob))
        .expect("the built-in kinds differ")
}

#[cfg(test)]
mod tests;
