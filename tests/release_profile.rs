//! The profile the deployed binaries are built with (`cargo lambda build --release`, which
//! `sam build` runs) lets panics unwind, so the executor's guard around each job works, and
//! keeps the size and speed settings Lambda wants. cargo-lambda substitutes its own profile,
//! with `panic = "abort"`, when Cargo.toml declares none.

#[test]
fn the_release_profile_unwinds_panics_and_is_optimised_for_lambda() {
    let manifest: toml::Table =
        toml::from_str(include_str!("../Cargo.toml")).expect("Cargo.toml parses");
    let release = manifest
        .get("profile")
        .and_then(|p| p.get("release"))
        .and_then(|r| r.as_table())
        .expect("Cargo.toml declares [profile.release], so cargo-lambda keeps it");
    let setting = |name: &str| release.get(name).map(ToString::to_string);
    assert_eq!(setting("panic").as_deref(), Some("\"unwind\""));
    assert_eq!(setting("opt-level").as_deref(), Some("3"));
    assert_eq!(setting("lto").as_deref(), Some("true"));
    assert_eq!(setting("codegen-units").as_deref(), Some("1"));
    assert_eq!(setting("strip").as_deref(), Some("true"));
}
