//! The tree keeps its shape: the functional core and the seams import no AWS crate and do no
//! I/O of their own; the handlers, jobs and lifecycle never name an adapter; and no module of
//! `src/` imports one that imports it back, across the crate's top-level modules or among the
//! files of one folder.

use std::collections::{BTreeMap, BTreeSet};
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
    "seams",
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

/// The handlers, the jobs and the lifecycle reach the world through the seams only: naming an
/// adapter (or the composition root that builds them) would tie them to AWS.
#[test]
fn handlers_jobs_and_the_lifecycle_never_name_an_adapter() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    for dir in ["handlers", "jobs", "lifecycle", "job.rs", "seams"] {
        let mut files = Vec::new();
        rust_files(&src.join(dir), &mut files);
        for file in &files {
            let text = fs::read_to_string(file).unwrap();
            for (number, line) in code_lines(&text) {
                for forbidden in ["crate::adapters", "crate::wiring", "crate::serve"] {
                    if line.contains(forbidden) {
                        offences.push(format!("{}:{number}: {}", file.display(), line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the shell's adapters named inside:\n{}",
        offences.join("\n")
    );
}

/// A module of `src/`: its path (`handlers::executor`) and the code it builds into the library
/// (a file that only tests compile, and inline test modules, left out).
struct Module {
    path: Vec<String>,
    code: String,
}

/// The lines of `text` that are code (comments and doc comments left out), numbered from 1, up
/// to its inline test module.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut previous = "";
    for (number, line) in text.lines().enumerate() {
        // An inline test module (`#[cfg(test)] mod tests {`) ends the library's code.
        if test_only(previous)
            && line.trim_start().starts_with("mod ")
            && line.trim_end().ends_with('{')
        {
            lines.pop();
            break;
        }
        previous = line;
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        lines.push((number + 1, code.to_owned()));
    }
    lines
}

/// Whether an attribute line makes what follows test-only (`#[cfg(test)]`,
/// `#[cfg(all(test, feature = "testing"))]`).
fn test_only(attribute: &str) -> bool {
    let attribute = attribute.trim();
    attribute.starts_with("#[cfg(")
        && ["(test)", "(test,", " test)", " test,"]
            .iter()
            .any(|t| attribute.contains(t))
}

/// Every module of `src/` that the library builds.
fn modules() -> Vec<Module> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut texts = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap().with_extension("");
        let mut path: Vec<String> = relative
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        if path[0] == "bin" {
            continue;
        }
        if matches!(path.last().map(String::as_str), Some("mod" | "lib")) {
            path.pop();
        }
        texts.insert(path, fs::read_to_string(&file).unwrap());
    }
    // A module its parent declares under a test-only `cfg` (and all below it) is left out.
    let declared_for_tests = |path: &[String]| {
        (1..=path.len()).any(|depth| {
            let (parent, name) = (&path[..depth - 1], &path[depth - 1]);
            texts.get(parent).is_some_and(|text| {
                let lines: Vec<&str> = text.lines().collect();
                lines
                    .windows(2)
                    .any(|pair| test_only(pair[0]) && pair[1].trim() == format!("mod {name};"))
            })
        })
    };
    texts
        .iter()
        .filter(|(path, _)| !declared_for_tests(path))
        .map(|(path, text)| Module {
            path: path.clone(),
            code: code_lines(text)
                .into_iter()
                .map(|(_, line)| line)
                .collect::<Vec<_>>()
                .join("\n"),
        })
        .collect()
}

/// The paths `code` names through `crate::` or `super::` (a `use` tree's braces flattened:
/// `super::{Deps, metrics}` names `super::Deps` and `super::metrics`), each as its segments.
fn named_paths(code: &str) -> Vec<Vec<String>> {
    fn ident(chars: &[char], at: &mut usize) -> Option<String> {
        let start = *at;
        while *at < chars.len() && (chars[*at].is_alphanumeric() || chars[*at] == '_') {
            *at += 1;
        }
        (*at > start).then(|| chars[start..*at].iter().collect())
    }
    fn skip_space(chars: &[char], at: &mut usize) {
        while *at < chars.len() && chars[*at].is_whitespace() {
            *at += 1;
        }
    }
    /// Reads a use tree after `prefix`, pushing every full path it names.
    fn tree(chars: &[char], at: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        skip_space(chars, at);
        if chars.get(*at) == Some(&'{') {
            *at += 1;
            loop {
                skip_space(chars, at);
                match chars.get(*at) {
                    Some('}') => {
                        *at += 1;
                        break;
                    }
                    Some(',') => *at += 1,
                    None => break,
                    _ => {
                        let before = *at;
                        tree(chars, at, prefix.clone(), out);
                        if *at == before {
                            *at += 1;
                        }
                    }
                }
            }
            return;
        }
        let Some(name) = ident(chars, at) else {
            out.push(prefix);
            return;
        };
        let mut path = prefix;
        path.push(name);
        if chars.get(*at..*at + 2) == Some(&[':', ':']) {
            *at += 2;
            tree(chars, at, path, out);
        } else {
            out.push(path);
        }
    }
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let boundary = at == 0 || !(chars[at - 1].is_alphanumeric() || chars[at - 1] == '_');
        let rest: String = chars[at..chars.len().min(at + 7)].iter().collect();
        let root = ["crate::", "super::"]
            .into_iter()
            .find(|root| boundary && rest.starts_with(root));
        match root {
            Some(root) => {
                at += root.len();
                tree(
                    &chars,
                    &mut at,
                    vec![root[..root.len() - 2].to_owned()],
                    &mut out,
                );
            }
            None => at += 1,
        }
    }
    out
}

/// The modules each module names: a named path resolves to the longest module that begins it.
fn import_graph(modules: &[Module]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let known: BTreeSet<&Vec<String>> = modules.iter().map(|m| &m.path).collect();
    let mut graph = BTreeMap::new();
    for module in modules {
        let mut edges = BTreeSet::new();
        for named in named_paths(&module.code) {
            let absolute: Vec<String> = match named[0].as_str() {
                "crate" => named[1..].to_vec(),
                _ => {
                    // `super` from a file module is its parent; `mod.rs` counts as the folder.
                    let mut base = module.path.clone();
                    base.pop();
                    base.extend(named[1..].iter().cloned());
                    base
                }
            };
            let target = (0..=absolute.len())
                .rev()
                .map(|n| absolute[..n].to_vec())
                .find(|prefix| known.contains(prefix));
            if let Some(target) = target.filter(|t| *t != module.path) {
                edges.insert(target);
            }
        }
        graph.insert(module.path.clone(), edges);
    }
    graph
}

/// A circle in `graph`, if it has one: the nodes around it, the first repeated at the end.
fn circle<N: Ord + Clone>(graph: &BTreeMap<N, BTreeSet<N>>) -> Option<Vec<N>> {
    fn visit<N: Ord + Clone>(
        node: &N,
        graph: &BTreeMap<N, BTreeSet<N>>,
        done: &mut BTreeSet<N>,
        stack: &mut Vec<N>,
    ) -> Option<Vec<N>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.clone());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, done, stack) {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

fn shown(path: &[String]) -> String {
    if path.is_empty() {
        "crate".into()
    } else {
        path.join("::")
    }
}

/// No circle among the crate's top-level modules (`handlers` → `metrics` → `handlers` was
/// one), nor among the files of one folder (`handlers::sweeper` → `handlers::metrics` →
/// `handlers::sweeper`); a folder's own `mod.rs` re-exporting its children is no circle.
#[test]
fn no_module_of_src_imports_one_that_imports_it_back() {
    let modules = modules();
    assert!(
        modules.len() > 60,
        "expected src/'s modules, found {}",
        modules.len()
    );
    let graph = import_graph(&modules);
    assert!(
        graph[&vec!["handlers".to_owned(), "executor".to_owned()]]
            .contains(&vec!["handlers".to_owned(), "metrics".to_owned()]),
        "the graph misses `use super::{{Deps, metrics}}`: {graph:?}"
    );
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in &graph {
        let Some(first) = from.first() else { continue };
        let targets = top.entry(first.clone()).or_default();
        for target in to.iter().filter_map(|t| t.first()) {
            if target != first {
                targets.insert(target.clone());
            }
        }
    }
    if let Some(found) = circle(&top) {
        panic!(
            "an import circle among src/'s modules: {}",
            found.join(" → ")
        );
    }
    let folders: BTreeSet<Vec<String>> = graph
        .keys()
        .filter(|path| !path.is_empty())
        .map(|path| path[..path.len() - 1].to_vec())
        .collect();
    for folder in folders {
        let siblings: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = graph
            .iter()
            .filter(|(path, _)| path.len() == folder.len() + 1 && path.starts_with(&folder))
            .map(|(path, to)| {
                let to = to
                    .iter()
                    .filter(|t| t.len() == folder.len() + 1 && t.starts_with(&folder))
                    .cloned()
                    .collect();
                (path.clone(), to)
            })
            .collect();
        if let Some(found) = circle(&siblings) {
            let found: Vec<String> = found.iter().map(|p| shown(p)).collect();
            panic!(
                "an import circle among the files of {}: {}",
                shown(&folder),
                found.join(" → ")
            );
        }
    }
}
