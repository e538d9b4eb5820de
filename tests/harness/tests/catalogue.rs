//! Every file of the component catalogue loads into a real daprd.

use std::path::Path;

use dapr_harness::{Daprd, Redis, catalogue_dir};
use serde_json::json;

/// What a catalogue file declares, read from its YAML (`kind`, `metadata.name`, `spec.type`).
#[derive(Debug)]
struct Declared {
    kind: String,
    name: String,
    component_type: Option<String>,
}

fn declared(path: &Path) -> Declared {
    let yaml = std::fs::read_to_string(path).unwrap();
    let field = |key: &str| {
        yaml.lines()
            .find_map(|line| line.trim_start().strip_prefix(key).map(|value| value.trim().to_owned()))
    };
    Declared {
        kind: field("kind:").unwrap_or_else(|| panic!("{} has no kind", path.display())),
        name: field("name:").unwrap_or_else(|| panic!("{} has no metadata.name", path.display())),
        component_type: field("type:"),
    }
}

/// Every YAML file under components/, as catalogue paths like "state/redis.yaml".
fn catalogue_files() -> Vec<String> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(catalogue_dir()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|ext| ext == "yaml") {
                let relative = file.strip_prefix(catalogue_dir()).unwrap();
                files.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    files
}

#[tokio::test]
async fn every_catalogue_component_loads_into_daprd() {
    let redis = Redis::start().await.unwrap();
    let files = catalogue_files();
    assert!(files.len() >= 9, "catalogue looks empty: {files:?}");
    let mut checked = 0;
    for file in &files {
        let declared = declared(&catalogue_dir().join(file));
        if declared.kind != "Component" {
            continue;
        }
        let daprd = Daprd::builder("catalogue-test")
            .redis(&redis)
            .component(file)
            .secrets(json!({"db": {"password": "s3cret"}}))
            .start()
            .await
            .unwrap_or_else(|error| panic!("{file}: daprd did not start: {error:#}"));
        let metadata = daprd.metadata().await.unwrap();
        let loaded = metadata["components"].as_array().cloned().unwrap_or_default();
        let expected_type = declared.component_type.clone().unwrap();
        assert!(
            loaded
                .iter()
                .any(|c| c["name"] == declared.name.as_str() && c["type"] == expected_type.as_str()),
            "{file}: metadata API does not list {} of type {expected_type}: {metadata:#}",
            declared.name
        );
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} components found in {files:?}");

    // Non-component files are covered by the tests below; a new kind needs a test of its own.
    let others: Vec<_> = files
        .iter()
        .filter(|f| declared(&catalogue_dir().join(f)).kind != "Component")
        .collect();
    assert_eq!(
        others,
        ["configuration/tracing.yaml", "resiliency/default.yaml"],
        "untested catalogue files"
    );
}

#[tokio::test]
async fn local_file_secret_store_serves_nested_secrets() {
    let daprd = Daprd::builder("secrets-test")
        .component("secretstore/local-file.yaml")
        .secrets(json!({"db": {"password": "s3cret"}}))
        .start()
        .await
        .unwrap();
    let response = daprd
        .http_client()
        .get(format!("{}/v1.0/secrets/secretstore/db:password", daprd.http_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({"db:password": "s3cret"})
    );
}

#[tokio::test]
async fn resiliency_policy_loads() {
    let redis = Redis::start().await.unwrap();
    let daprd = Daprd::builder("resiliency-test")
        .redis(&redis)
        .component("state/redis.yaml")
        .component("pubsub/redis.yaml")
        .component("resiliency/default.yaml")
        .start()
        .await
        .unwrap();
    // The metadata API does not list resiliency policies; daprd logs each one it accepts (and
    // refuses to start on an invalid one). Its effect is tested in pubsub.rs (inbound retries).
    let log = daprd.log();
    assert!(log.contains("Loading Resiliency configuration: resiliency"), "{log}");
    assert!(!log.contains("level=error"), "{log}");
}

#[tokio::test]
async fn tracing_configuration_samples_every_request() {
    // With samplingRate "1" every API call is traced: the sidecar answers with a sampled W3C
    // `traceparent` (flags 01). Without the configuration it answers an all-zero, unsampled one.
    let traceparent = |daprd: Daprd| async move {
        let response = daprd
            .http_client()
            .get(format!("{}/v1.0/metadata", daprd.http_url()))
            .send()
            .await
            .unwrap();
        response.headers()["traceparent"].to_str().unwrap().to_owned()
    };
    let traced = Daprd::builder("tracing-test")
        .config("configuration/tracing.yaml")
        .start()
        .await
        .unwrap();
    let header = traceparent(traced).await;
    assert!(
        header.ends_with("-01") && !header.contains("-00000000000000000000000000000000-"),
        "{header}"
    );

    let untraced = Daprd::builder("tracing-test").start().await.unwrap();
    assert!(traceparent(untraced).await.ends_with("-00"));
}
