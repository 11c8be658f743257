//! How the deployed binaries are built (`cargo lambda build --release`, which `sam build`
//! runs): the profile lets panics unwind, so the executor's guard around each job works, and
//! keeps the size settings Lambda wants (cargo-lambda substitutes its own profile, with
//! `panic = "abort"`, when Cargo.toml declares none); and the package's metadata tells
//! cargo-lambda to leave the default features (the command line, the test kit) out.

fn manifest() -> toml::Table {
    toml::from_str(include_str!("../Cargo.toml")).expect("Cargo.toml parses")
}

#[test]
fn the_release_profile_unwinds_panics_and_is_optimised_for_size() {
    let manifest = manifest();
    let release = manifest
        .get("profile")
        .and_then(|p| p.get("release"))
        .and_then(|r| r.as_table())
        .expect("Cargo.toml declares [profile.release], so cargo-lambda keeps it");
    let setting = |name: &str| release.get(name).map(ToString::to_string);
    assert_eq!(setting("panic").as_deref(), Some("\"unwind\""));
    assert_eq!(setting("opt-level").as_deref(), Some("\"z\""));
    assert_eq!(setting("lto").as_deref(), Some("true"));
    assert_eq!(setting("codegen-units").as_deref(), Some("1"));
    assert_eq!(setting("strip").as_deref(), Some("true"));
}

#[test]
fn cargo_lambda_builds_the_functions_without_the_default_features() {
    let manifest = manifest();
    let build = manifest
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("lambda"))
        .and_then(|l| l.get("build"))
        .expect("Cargo.toml has [package.metadata.lambda.build], which cargo-lambda reads");
    assert_eq!(
        build.get("no_default_features").and_then(|v| v.as_bool()),
        Some(true)
    );
}
