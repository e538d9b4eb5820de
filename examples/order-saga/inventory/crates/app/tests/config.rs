//! The configuration: the shipped file, overrides by environment, and errors that name the key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use inventory::config::{ConfigError, Settings};
use inventory::telemetry::LogFormat;

fn default_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml")
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::load_from(&default_file(), env(pairs))
}

fn error_of(pairs: &[(&str, &str)]) -> String {
    match load(pairs) {
        Ok(settings) => panic!("{pairs:?} was accepted: {settings:?}"),
        Err(error) => format!(
            "{error:#}: {}",
            std::error::Error::source(&error)
                .map(ToString::to_string)
                .unwrap_or_default()
        ),
    }
}

#[test]
fn the_shipped_file_loads_with_its_documented_defaults() {
    let settings = load(&[]).expect("config/default.toml is valid");
    assert_eq!(settings.http.port, 8080);
    assert_eq!(settings.http.host.to_string(), "127.0.0.1");
    assert_eq!(
        settings.dapr.sidecar.grpc_endpoint,
        "http://127.0.0.1:50001"
    );
    assert_eq!(settings.dapr.sidecar.http_endpoint, "http://127.0.0.1:3500");
    assert_eq!(settings.dapr.sidecar.state_store, "statestore");
    assert_eq!(settings.dapr.sidecar.lock_store, "lockstore");
    assert_eq!(settings.dapr.pubsub, "pubsub");
    assert_eq!(settings.dapr.sidecar.api_token, None);
    assert_eq!(settings.dapr.app_api_token, None);
    assert_eq!(settings.telemetry.format, LogFormat::Json);
    assert!(settings.shutdown_timeout_ms > 0 && settings.sidecar_wait_ms > 0);
}

#[test]
fn app_variables_override_single_keys() {
    let settings = load(&[
        ("APP__HTTP__PORT", "9000"),
        ("APP__HTTP__HOST", "0.0.0.0"),
        ("APP__TELEMETRY__FORMAT", "pretty"),
        ("APP__SHUTDOWN_TIMEOUT_MS", "1500"),
        ("APP__DAPR__PUBSUB", "events"),
        ("APP__DAPR__IDEMPOTENCY_TTL_SECONDS", "3600"),
        ("UNRELATED", "ignored"),
    ])
    .unwrap();
    assert_eq!(settings.dapr.sidecar.idempotency_ttl_seconds, 3600);
    assert_eq!(settings.http.port, 9000);
    assert_eq!(settings.http.host.to_string(), "0.0.0.0");
    assert_eq!(settings.telemetry.format, LogFormat::Pretty);
    assert_eq!(settings.shutdown_timeout_ms, 1500);
    assert_eq!(settings.dapr.pubsub, "events");
}

#[test]
fn the_variables_dapr_sets_win() {
    let settings = load(&[
        ("APP__DAPR__GRPC_ENDPOINT", "http://127.0.0.1:1111"),
        ("DAPR_GRPC_PORT", "45678"),
        ("DAPR_HTTP_PORT", "45679"),
        ("DAPR_API_TOKEN", "sidecar-secret"),
        ("APP_API_TOKEN", "app-secret"),
        ("APP_PORT", "8181"),
    ])
    .unwrap();
    assert_eq!(
        settings.dapr.sidecar.grpc_endpoint,
        "http://127.0.0.1:45678"
    );
    assert_eq!(
        settings.dapr.sidecar.http_endpoint,
        "http://127.0.0.1:45679"
    );
    assert_eq!(
        settings.dapr.sidecar.api_token.as_deref(),
        Some("sidecar-secret")
    );
    assert_eq!(
        settings
            .dapr
            .app_api_token
            .as_ref()
            .map(|token| token.expose()),
        Some("app-secret")
    );
    assert_eq!(settings.http.port, 8181);
}

#[test]
fn an_endpoint_variable_wins_over_a_port_variable() {
    let settings = load(&[
        ("DAPR_GRPC_ENDPOINT", "http://sidecar:50001"),
        ("DAPR_GRPC_PORT", "45678"),
    ])
    .unwrap();
    assert_eq!(settings.dapr.sidecar.grpc_endpoint, "http://sidecar:50001");
}

#[test]
fn a_malformed_dapr_variable_is_named() {
    let error = error_of(&[("DAPR_GRPC_PORT", "fifty")]);
    assert!(error.contains("DAPR_GRPC_PORT"), "{error}");
}

#[test]
fn tokens_are_read_from_the_variables_only() {
    let settings = load(&[
        ("APP__DAPR__API_TOKEN", "from-app-variable"),
        ("APP__DAPR__APP_API_TOKEN", "from-app-variable"),
    ])
    .unwrap();
    assert_eq!(settings.dapr.sidecar.api_token, None);
    assert_eq!(settings.dapr.app_api_token, None);
}

#[test]
fn an_empty_token_variable_means_no_token() {
    let settings = load(&[("DAPR_API_TOKEN", ""), ("APP_API_TOKEN", "")]).unwrap();
    assert_eq!(settings.dapr.sidecar.api_token, None);
    assert_eq!(settings.dapr.app_api_token, None);
}

#[test]
fn tokens_never_appear_in_debug_output() {
    let settings = load(&[
        ("DAPR_API_TOKEN", "sidecar-secret"),
        ("APP_API_TOKEN", "app-secret"),
    ])
    .unwrap();
    let printed = format!("{settings:?}");
    assert!(
        !printed.contains("sidecar-secret") && !printed.contains("app-secret"),
        "{printed}"
    );
}

#[test]
fn a_value_of_the_wrong_type_names_its_key() {
    let error = error_of(&[("APP__HTTP__PORT", "eighty")]);
    assert!(error.contains("http.port"), "{error}");
    let error = error_of(&[("APP__HTTP__PORT", "70000")]);
    assert!(error.contains("http.port"), "{error}");
    let error = error_of(&[("APP__HTTP__HOST", "not-an-address")]);
    assert!(error.contains("http.host"), "{error}");
    let error = error_of(&[("APP__DAPR__IDEMPOTENCY_TTL_SECONDS", "a day")]);
    assert!(error.contains("dapr.idempotency_ttl_seconds"), "{error}");
}

#[test]
fn an_unknown_log_format_names_its_key() {
    let error = error_of(&[("APP__TELEMETRY__FORMAT", "xml")]);
    assert!(error.contains("telemetry.format"), "{error}");
}

#[test]
fn out_of_range_values_name_their_key() {
    for (variable, key) in [
        ("APP__HTTP__BODY_LIMIT_BYTES", "http.body_limit_bytes"),
        ("APP__HTTP__REQUEST_TIMEOUT_MS", "http.request_timeout_ms"),
        ("APP__SHUTDOWN_TIMEOUT_MS", "shutdown_timeout_ms"),
        ("APP__SIDECAR_WAIT_MS", "sidecar_wait_ms"),
    ] {
        let error = error_of(&[(variable, "0")]);
        assert!(error.contains(key), "{variable}=0: {error}");
    }
    let error = error_of(&[("APP__TELEMETRY__LEVEL", "info,[")]);
    assert!(error.contains("telemetry.level"), "{error}");
    let error = error_of(&[("APP__DAPR__STATE_STORE", " ")]);
    assert!(error.contains("dapr.state_store"), "{error}");
    let error = error_of(&[("APP__DAPR__GRPC_ENDPOINT", "127.0.0.1:50001")]);
    assert!(error.contains("dapr.grpc_endpoint"), "{error}");
}

#[test]
fn a_file_of_its_own_is_read_and_an_unknown_key_in_it_is_named() {
    let directory = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(default_file()).unwrap();
    let custom = directory.path().join("custom.toml");
    std::fs::write(&custom, shipped.replace("port = 8080", "port = 8123")).unwrap();
    let settings = Settings::load_from(&custom, HashMap::new()).unwrap();
    assert_eq!(settings.http.port, 8123);

    let misspelt = directory.path().join("misspelt.toml");
    std::fs::write(&misspelt, shipped.replace("body_limit_bytes", "body_limit")).unwrap();
    let error = Settings::load_from(&misspelt, HashMap::new()).unwrap_err();
    let message = format!("{error}: {}", std::error::Error::source(&error).unwrap());
    assert!(message.contains("body_limit"), "{message}");
}

#[test]
fn a_missing_file_is_named() {
    let error =
        Settings::load_from(Path::new("/nonexistent/app.toml"), HashMap::new()).unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/app.toml"),
        "{error}"
    );
}
