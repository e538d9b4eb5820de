//! Issue 3: "the service starts, serves and shuts down cleanly under `dapr run -f`".
//!
//! The Dapr CLI cannot be built on these machines, so the generated service's own `dapr.yaml` is
//! run, exactly as written, by the harness's stand-in for `dapr run -f`
//! (`dapr_harness::MultiAppRun`, docs/HARNESS.md "dapr.yaml without the Dapr CLI"): a real daprd,
//! the service started by the file's `command` (`cargo run --release`) in its directory, redis,
//! placement and scheduler where `dapr init` would have them. The test then uses the service
//! through its port and through its sidecar, and stops it: the service must exit with status 0
//! after SIGTERM, and its sidecar too.
//!
//! The file's comments tell the user to export `APP_API_TOKEN` in the shell before `dapr run -f`
//! (the CLI hands its own environment to the sidecar and the app alike): the test does the same,
//! through the runner's environment. It also exports `CARGO_TARGET_DIR`, the shared target
//! directory of the template tests, so the release build is reused from run to run.
//!
//! Slow the first time (a release build of the service's dependencies: many minutes); it prints
//! its progress. Settings (environment): `TEMPLATE_MATRIX_TARGET` (the shared `CARGO_TARGET_DIR`,
//! as for the matrix); `DAPR_RUN_FILE_READY_TIMEOUT`: seconds the service may take to build and
//! become ready (default 3600). Without the Dapr runtime (`make dapr`) the test fails, saying so.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use dapr_harness::{DaprRuntime, MultiAppRun, RunFile, RunOptions, RunningApp};
use daprgen::new::{NewService, run};
use reqwest::StatusCode;
use serde_json::{Value, json};
use template_tests::cargo::{env_duration, progress, seconds, set_by_outer_cargo, shared_target, work_dir};

const SERVICE: &str = "runfile-check";

#[tokio::test]
async fn the_default_service_starts_serves_and_stops_cleanly_under_its_dapr_yaml() {
    if let Err(error) = DaprRuntime::locate() {
        panic!(
            "this test runs the generated service's dapr.yaml against the real Dapr runtime, which is \
             missing:\n{error:#}"
        );
    }
    let target = shared_target(env!("CARGO_TARGET_TMPDIR"));
    let work = work_dir(&target, "dapr-run-file");
    let service_dir = work.join(SERVICE);
    // Rendered anew every run: fresh sources also make cargo rerun the api crate's build script,
    // whose output directory services of the same shared target directory would otherwise share.
    if service_dir.exists() {
        fs::remove_dir_all(&service_dir).expect("removing the previous run's service");
    }
    fs::create_dir_all(&work).unwrap();
    run(NewService {
        name: SERVICE.into(),
        defines: Vec::new(),
        destination: Some(work.clone()),
    })
    .expect("rendering the default service");
    progress(format_args!("dapr-run-file: rendered {}", service_dir.display()));

    let file = RunFile::load(&service_dir).expect("the generated dapr.yaml is a valid run file");
    let token = format!("app-token-{}", std::process::id());
    let options = shell_environment(RunOptions::default(), &target)
        .env("APP_API_TOKEN", &token)
        .console(false)
        .app_ready_timeout(env_duration("DAPR_RUN_FILE_READY_TIMEOUT", 3600))
        .reporter(|line| progress(format_args!("dapr-run-file: {line}")));
    let started = Instant::now();
    let run = MultiAppRun::start(&file, options)
        .await
        .expect("the service starts under its dapr.yaml");
    let ready = started.elapsed();
    let app = run.app(SERVICE).expect("the app of dapr.yaml");
    progress(format_args!(
        "dapr-run-file: ready after {} (build included); app port {:?}, sidecar HTTP {}",
        seconds(ready),
        app.app_port(),
        app.dapr_http_port()
    ));

    let id = serves(app, &token).await;
    // The create's domain event goes out through the outbox about a second after the commit.
    // Waiting for it is part of what a clean stop means here: daprd 1.18.2 stopped within that
    // second ends in its own graceful-shutdown timeout and exit status 1 (pinned by
    // tests/harness/tests/run_file.rs), whatever the service does.
    outbox_event_published(&id).await;

    let report = run.stop().await.expect("the service and its sidecar stop cleanly");
    let stopped = &report.apps[0];
    assert!(stopped.app_exit.is_some_and(|status| status.success()), "{report}");
    assert!(stopped.daprd_exit.is_some_and(|status| status.success()), "{report}");
    assert!(!stopped.app_exited_before_stop, "{report}");
    progress(format_args!(
        "dapr-run-file: stopped cleanly: app {} in {}, sidecar {} in {}",
        stopped.app_exit.unwrap(),
        seconds(stopped.app_stop),
        stopped.daprd_exit.unwrap(),
        seconds(stopped.daprd_stop)
    ));
}

/// What a user's shell would hold when running `dapr run -f .` from the README: the shared target
/// directory exported, and none of the variables the outer `cargo test` sets for this test.
fn shell_environment(mut options: RunOptions, target: &Path) -> RunOptions {
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str().filter(|name| set_by_outer_cargo(name)) {
            options = options.env_remove(name);
        }
    }
    options
        .env("CARGO_TARGET_DIR", target.to_string_lossy())
        .env("CARGO_TERM_COLOR", "never")
}

/// The service answers on its own port and through its sidecar, and it and its sidecar share the
/// app token. Returns the id of the item it created.
async fn serves(app: &RunningApp, token: &str) -> String {
    let http = reqwest::Client::new();
    let app_url = app.app_url().expect("dapr.yaml gives the app port");
    let sidecar = app.daprd().http_url();

    let health = http.get(format!("{app_url}/healthz")).send().await.unwrap();
    assert!(health.status().is_success(), "GET /healthz: {}", health.status());

    let created = http
        .post(format!("{app_url}/items"))
        .json(&json!({"name": "Run-file widget", "quantity": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED, "POST /items");
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().expect("the created item has an id").to_owned();
    let read: Value = http
        .get(format!("{app_url}/items/{id}"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .expect("GET /items/{id}")
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&read["name"], &read["quantity"]),
        (&json!("Run-file widget"), &json!(3))
    );

    // Service invocation: the sidecar calls the app.
    let invoke = |method: String| {
        http.get(format!("{sidecar}/v1.0/invoke/{SERVICE}/method/{method}"))
            .send()
    };
    let invoked = invoke("healthz".into()).await.unwrap();
    assert!(invoked.status().is_success(), "invoking healthz: {}", invoked.status());
    let through_sidecar: Value = invoke(format!("items/{id}")).await.unwrap().json().await.unwrap();
    assert_eq!(through_sidecar, read, "the item read through the sidecar");

    // The app checks the token on the routes only the sidecar may call, and the sidecar has it.
    let without_token = http.get(format!("{app_url}/dapr/subscribe")).send().await.unwrap();
    assert_eq!(
        without_token.status(),
        StatusCode::UNAUTHORIZED,
        "GET /dapr/subscribe without the token"
    );
    let with_token = http
        .get(format!("{app_url}/dapr/subscribe"))
        .header("dapr-api-token", token)
        .send()
        .await
        .unwrap();
    assert!(
        with_token.status().is_success(),
        "GET /dapr/subscribe with the token: {}",
        with_token.status()
    );
    let metadata = app.daprd().metadata().await.unwrap();
    assert!(
        metadata["subscriptions"]
            .as_array()
            .is_some_and(|subscriptions| !subscriptions.is_empty()),
        "the sidecar read the app's subscriptions (so it sent the app token): {metadata}"
    );
    id
}

/// Waits until the redis stream of the `domain-events` topic (the outbox's, on the redis at
/// localhost:6379 that the components use) holds an event mentioning `id`.
async fn outbox_event_published(id: &str) {
    let started = Instant::now();
    let events = || dapr_harness::redis_stream_entries(dapr_harness::LOCAL_REDIS_PORT, "domain-events");
    while !events().await.expect("the run's redis on localhost:6379").contains(id) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no domain event for item {id} on topic domain-events within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    progress(format_args!(
        "dapr-run-file: the outbox published the create's event after {}",
        seconds(started.elapsed())
    ));
}
