//! The rules every SQL function follows (README "definition of done"): documentation in the
//! code with a description, syntax and an example; an `.slt` file named after it; and an entry
//! in the shell's `\h` list (which is built from the same documentation).

use std::path::Path;

fn slt_names(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("tests/sql").flatten() {
        let p = entry.path();
        if p.is_dir() {
            slt_names(&p, out);
        } else if p.extension().is_some_and(|e| e == "slt") {
            out.push(
                p.file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
}

#[test]
fn every_function_has_docs_an_slt_file_and_a_help_entry() {
    let mut slts = Vec::new();
    slt_names(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql"),
        &mut slts,
    );
    let docs = ecomsql_udfs::all_function_docs();
    assert!(docs.len() >= 26, "{} functions", docs.len());
    let mut missing = Vec::new();
    for f in &docs {
        let d = &f.documentation;
        assert!(
            !d.description.trim().is_empty(),
            "{}: no description",
            f.name
        );
        assert!(
            d.syntax_example.contains(&f.name),
            "{}: syntax {:?} does not name it",
            f.name,
            d.syntax_example
        );
        assert!(d.sql_example.is_some(), "{}: no example", f.name);
        if !slts.contains(&f.name) {
            missing.push(f.name.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "functions without tests/sql/**/<name>.slt: {missing:?}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ecomsql"))
        .args(["--data", "/nonexistent-but-unused", "sql", "-c", "\\h"])
        .output()
        .expect("run ecomsql");
    let text = String::from_utf8_lossy(&out.stdout);
    for f in &docs {
        assert!(
            text.contains(&f.documentation.syntax_example),
            "\\h does not list {}",
            f.name
        );
    }
}
