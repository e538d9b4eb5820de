//! The template's Dapr components are copies of the repository catalogue (components/), so a
//! generated service runs exactly what the catalogue tests load into a real daprd. This test
//! keeps the copies byte-identical; fix a component in the catalogue, then copy it here.

use std::path::Path;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Template file (under template/components/) and the catalogue file it copies.
const COPIES: [(&str, &str); 7] = [
    (
        "statestore{%comment%}redis-outbox{%endcomment%}.yaml",
        "state/redis-outbox.yaml",
    ),
    (
        "statestore{%comment%}sqlite-outbox{%endcomment%}.yaml",
        "state/sqlite-outbox.yaml",
    ),
    ("pubsub{%comment%}redis{%endcomment%}.yaml", "pubsub/redis.yaml"),
    ("pubsub{%comment%}in-memory{%endcomment%}.yaml", "pubsub/in-memory.yaml"),
    ("lockstore.yaml", "lock/redis.yaml"),
    ("resiliency.yaml", "resiliency/default.yaml"),
    ("config.yaml", "configuration/tracing.yaml"),
];

#[test]
fn template_components_are_byte_identical_to_the_catalogue() {
    let template = Path::new(ROOT).join("template/components");
    let catalogue = Path::new(ROOT).join("components");
    let mut drifted = Vec::new();
    for (copy, original) in COPIES {
        let copy_bytes =
            std::fs::read(template.join(copy)).unwrap_or_else(|e| panic!("template/components/{copy}: {e}"));
        let original_bytes = std::fs::read(catalogue.join(original)).unwrap();
        if copy_bytes != original_bytes {
            drifted.push(format!("template/components/{copy} differs from components/{original}"));
        }
    }
    assert!(drifted.is_empty(), "{}", drifted.join("\n"));
}

#[test]
fn every_template_component_is_a_known_copy() {
    let mut files: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("template/components"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut known: Vec<String> = COPIES.iter().map(|(copy, _)| copy.to_string()).collect();
    known.sort();
    assert_eq!(files, known, "a template component without a catalogue original");
}
