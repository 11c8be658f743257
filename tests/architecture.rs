//! The functional core stays pure: its modules import no AWS crate and do no I/O of their own.

use std::fs;
use std::path::{Path, PathBuf};

/// The core modules of DESIGN.md: the item model, schedules, the lifecycle and job validation.
const CORE: &[&str] = &[
    "item.rs",
    "item",
    "schedule",
    "lifecycle",
    "job.rs",
    "jobs",
    "timestamp.rs",
    "stream_filter.rs",
    "network.rs",
];

/// Crates and calls that reach AWS, the network, the file system, a runtime or the clock; none
/// may appear in the core (address types are data, so `std::net::IpAddr` may).
const FORBIDDEN: &[&str] = &[
    "aws_sdk_",
    "aws_config",
    "aws_smithy",
    "aws_lambda_events",
    "lambda_runtime",
    "tokio::",
    "std::fs",
    "TcpStream",
    "UdpSocket",
    "ToSocketAddrs",
    "lookup_host",
    "reqwest",
    "SystemTime::now",
    "Utc::now",
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

#[test]
fn core_modules_import_no_aws_crate_and_read_no_clock() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for module in CORE {
        let path = src.join(module);
        assert!(path.exists(), "core module {} is missing", path.display());
        rust_files(&path, &mut files);
    }
    let mut offences = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for forbidden in FORBIDDEN {
                if code.contains(forbidden) && !file.ends_with("tests.rs") {
                    offences.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        files.len() >= 10,
        "expected the core's files, found {files:?}"
    );
    assert!(
        offences.is_empty(),
        "the pure core reaches outside itself:\n{}",
        offences.join("\n")
    );
}

/// The core's layers import downwards only: `lifecycle` knows nothing of jobs (the registry is a
/// `Planner` to it), and `job` names no built-in job (`jobs::builtin()` does), so no module of
/// the core imports one that imports it back.
#[test]
fn the_core_has_no_import_circle_between_lifecycle_job_and_jobs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    let mut check = |dir: &str, forbidden: &[&str]| {
        let mut files = Vec::new();
        rust_files(&src.join(dir), &mut files);
        for file in files
            .iter()
            .filter(|f| !f.ends_with("tests.rs") && !f.ends_with("corpus.rs"))
        {
            let text = fs::read_to_string(file).unwrap();
            for line in text.lines().filter(|l| l.trim_start().starts_with("use ")) {
                if forbidden.iter().any(|f| line.contains(f)) {
                    offences.push(format!("{}: {}", file.display(), line.trim()));
                }
            }
        }
    };
    check("lifecycle", &["crate::job", "crate::jobs"]);
    check("job.rs", &["crate::jobs"]);
    assert!(
        offences.is_empty(),
        "imports that close a circle:\n{}",
        offences.join("\n")
    );
}
