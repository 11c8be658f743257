//! Code, template and README agree on configuration: every `NEXTDUE_…` variable the code reads
//! is set by template.yaml and documented in the README.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

fn variables_read_by_the_code(dir: &Path, found: &mut BTreeSet<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            variables_read_by_the_code(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices("\"NEXTDUE_") {
                let name: String = text[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                    .collect();
                found.insert(name);
            }
        }
    }
}

#[test]
fn every_setting_the_code_reads_is_set_by_the_template_and_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut variables = BTreeSet::new();
    variables_read_by_the_code(&root.join("src"), &mut variables);
    assert!(
        variables.len() >= 8,
        "expected the NEXTDUE_ settings, found {variables:?}"
    );
    let template = fs::read_to_string(root.join("template.yaml")).unwrap();
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    for variable in &variables {
        assert!(
            template.contains(&format!("{variable}:")),
            "template.yaml does not set {variable}"
        );
        assert!(
            readme.contains(&format!("`{variable}`")),
            "README.md does not document {variable}"
        );
    }
}
