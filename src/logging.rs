//! How the Lambda functions log: as Lambda's advanced logging controls ask (JSON lines when
//! `AWS_LAMBDA_LOG_FORMAT` is `JSON`, the level of `AWS_LAMBDA_LOG_LEVEL`), else by `RUST_LOG`.
//!
//! `lambda_runtime`'s own `init_default_subscriber` does the same through `EnvFilter`, which
//! brings a regular-expression engine into every function (0.2 to 0.3 MB of code) for
//! span-field matching nextdue never uses; per-target levels (`nextdue=debug,warn`) need no
//! regular expressions.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter for `AWS_LAMBDA_LOG_LEVEL` (`TRACE` … `FATAL`), which wins, or else `RUST_LOG`
/// (`info`, `nextdue=debug,aws_smithy_runtime=warn`, …); `INFO` when neither is set or when
/// the value does not parse.
pub fn filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let info = Targets::new().with_default(LevelFilter::INFO);
    match lambda_level.or(rust_log).map(str::trim) {
        None | Some("") => info,
        // Lambda's level above ERROR; tracing has none.
        Some(level) if level.eq_ignore_ascii_case("fatal") => {
            Targets::new().with_default(LevelFilter::ERROR)
        }
        Some(directives) => directives.parse().unwrap_or(info),
    }
}

/// Sets up this process's logging from its environment; called once, when a function starts.
pub fn init() {
    let var = |name| std::env::var(name).ok();
    let filter = filter(
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        var("RUST_LOG").as_deref(),
    );
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    // Lambda stamps every line itself; the target is in the JSON, where it is a field.
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .without_time()
        .with_target(json);
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry.with(lines.json()).init();
    } else {
        registry.with(lines).init();
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn lambdas_level_wins_over_rust_log_and_info_is_the_default() {
        let debug = filter(Some("DEBUG"), Some("error"));
        assert!(debug.would_enable("nextdue::handlers", &Level::DEBUG));
        assert!(!debug.would_enable("nextdue::handlers", &Level::TRACE));

        for default in [
            filter(None, None),
            filter(Some(""), None),
            filter(None, Some(" ")),
        ] {
            assert!(default.would_enable("nextdue", &Level::INFO));
            assert!(!default.would_enable("nextdue", &Level::DEBUG));
        }
    }

    #[test]
    fn rust_log_takes_levels_per_target() {
        let targets = filter(None, Some("nextdue=debug,aws_smithy_runtime=warn,info"));
        assert!(targets.would_enable("nextdue::lifecycle", &Level::DEBUG));
        assert!(!targets.would_enable("aws_smithy_runtime::client", &Level::INFO));
        assert!(targets.would_enable("hyper", &Level::INFO));
        assert!(!targets.would_enable("hyper", &Level::DEBUG));
    }

    #[test]
    fn fatal_is_error_and_what_does_not_parse_is_info() {
        let fatal = filter(Some("FATAL"), None);
        assert!(fatal.would_enable("nextdue", &Level::ERROR));
        assert!(!fatal.would_enable("nextdue", &Level::WARN));

        let nonsense = filter(None, Some("nextdue=loud"));
        assert!(nonsense.would_enable("nextdue", &Level::INFO));
        assert!(!nonsense.would_enable("nextdue", &Level::DEBUG));
    }
}
