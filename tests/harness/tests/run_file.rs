//! The `dapr run -f` stand-in: how it reads a run file (the CLI's path, precedence and merge
//! rules; unsupported keys refused by name), and, with real sidecars, what it gives each process
//! and how it reports a stop that is not clean.
//!
//! The runs use `dapr init`'s fixed local ports (redis 6379, placement 50005, scheduler 50006),
//! so they take turns.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dapr_harness::{LogDestination, MultiAppRun, RunFile, RunOptions, SUPPORTED_KEYS};
use tempfile::TempDir;
use tokio::sync::Mutex;

/// A directory tree for a run file: `files` are (relative path, contents); a path ending in `/`
/// is a directory.
fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::with_prefix("run-file-").unwrap();
    for (path, contents) in files {
        let path = dir.path().join(path);
        if path.to_string_lossy().ends_with('/') {
            fs::create_dir_all(&path).unwrap();
        } else {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, contents).unwrap();
        }
    }
    dir
}

/// A Dapr home with the `components/` and `config.yaml` that `dapr init` writes.
fn dapr_home() -> TempDir {
    tree(&[("components/", ""), ("config.yaml", "kind: Configuration\n")])
}

fn parse(dir: &TempDir, home: &TempDir) -> anyhow::Result<RunFile> {
    RunFile::load_with_dapr_home(dir.path(), home.path())
}

fn error_of(dir: &TempDir, home: &TempDir) -> String {
    format!("{:#}", parse(dir, home).expect_err("the run file must be refused"))
}

#[test]
fn paths_resolve_like_the_cli() {
    let home = dapr_home();
    let dir = tree(&[
        (
            "dapr.yaml",
            "version: 1
common:
  resourcesPath: ./shared/components
  configFilePath: shared/config.yaml
apps:
  - appID: plain
    appDirPath: ./services/plain
  - appID: local
    appDirPath: services/local/
  - appID: own
    appDirPath: ./services/local
    resourcesPaths: [own-components, ../plain/extra]
    configFilePath: own.yaml
",
        ),
        ("shared/components/", ""),
        ("shared/config.yaml", ""),
        ("services/plain/extra/", ""),
        ("services/local/.dapr/resources/", ""),
        ("services/local/.dapr/config.yaml", ""),
        ("services/local/own-components/", ""),
        ("services/local/own.yaml", ""),
    ]);
    let root = dir.path();
    let file = parse(&dir, &home).unwrap();
    let [plain, local, own] = file.apps() else {
        panic!("three apps")
    };
    // common's paths are relative to the run file.
    assert_eq!(plain.app_dir, root.join("services/plain"));
    assert_eq!(plain.resources_paths, [root.join("shared/components")]);
    assert_eq!(plain.config_file.as_deref(), Some(&*root.join("shared/config.yaml")));
    // <appDirPath>/.dapr wins over common.
    assert_eq!(local.resources_paths, [root.join("services/local/.dapr/resources")]);
    assert_eq!(
        local.config_file.as_deref(),
        Some(&*root.join("services/local/.dapr/config.yaml"))
    );
    // An app's own paths are relative to its appDirPath and win over everything.
    assert_eq!(
        own.resources_paths,
        [
            root.join("services/local/own-components"),
            root.join("services/plain/extra")
        ]
    );
    assert_eq!(own.config_file.as_deref(), Some(&*root.join("services/local/own.yaml")));
    assert_eq!(plain.logs_dir(), root.join("services/plain/.dapr/logs"));
}

#[test]
fn without_paths_the_dapr_home_defaults_apply() {
    let home = dapr_home();
    let dir = tree(&[
        ("dapr.yaml", "version: 1\napps:\n  - appDirPath: ./orders\n"),
        ("orders/", ""),
    ]);
    let file = parse(&dir, &home).unwrap();
    let app = &file.apps()[0];
    assert_eq!(app.app_id, "orders", "the appID defaults to the directory's name");
    assert_eq!(app.resources_paths, [home.path().join("components")]);
    assert_eq!(app.config_file.as_deref(), Some(&*home.path().join("config.yaml")));
    assert_eq!(app.app_protocol, "http");
    assert_eq!(
        (app.app_log, app.daprd_log),
        (LogDestination::FileAndConsole, LogDestination::File)
    );
    assert_eq!(app.placement_host_address.as_deref(), Some("localhost:50005"));
    assert_eq!(app.scheduler_host_address.as_deref(), Some("localhost:50006"));
    assert!(app.command.is_empty() && app.app_port.is_none() && app.health_check_path().is_none());

    fs::remove_dir_all(home.path().join("components")).unwrap();
    let error = error_of(&dir, &home);
    assert!(
        error.contains("no resourcesPath is given") && error.contains("components"),
        "{error}"
    );
}

#[test]
fn common_is_merged_into_each_app_as_the_cli_merges_it() {
    let home = dapr_home();
    let dir = tree(&[(
        "dapr.yaml",
        "version: 1
common:
  appProtocol: GRPC
  enableAppHealthCheck: true
  logLevel: debug
  placementHostAddress: ''
  schedulerHostAddress: scheduler.local
  env:
    SHARED: from-common
    OVERRIDDEN: from-common
    FLAG: true
    NUMBER: 3
apps:
  - appID: a
    appDirPath: .
    appPort: 9000
    enableAppHealthCheck: false
    appHealthCheckPath: /ready
    appHealthProbeInterval: 2
    enableApiLogging: true
    daprHTTPPort: 3600
    command: [./run.sh, --fast]
    env:
      OVERRIDDEN: from-app
      EMPTY:
  - appID: b
    appDirPath: .
    appProtocol: http
    logLevel: ''
    placementHostAddress: placement.local:7000
",
    )]);
    let file = parse(&dir, &home).unwrap();
    let [a, b] = file.apps() else { panic!("two apps") };
    assert_eq!(a.app_protocol, "grpc", "common's value, lower-cased");
    assert_eq!(b.app_protocol, "http");
    // false is Go's zero value: common's true wins, as with the CLI.
    assert!(a.app_health_check && b.app_health_check);
    assert_eq!(a.health_check_path(), Some("/ready"));
    assert_eq!(b.health_check_path(), Some("/healthz"));
    assert_eq!(
        a.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
        [
            ("EMPTY", ""),
            ("FLAG", "true"),
            ("NUMBER", "3"),
            ("OVERRIDDEN", "from-app"),
            ("SHARED", "from-common")
        ]
    );
    assert_eq!(b.env["OVERRIDDEN"], "from-common");
    assert_eq!(a.command, ["./run.sh", "--fast"]);
    assert_eq!(
        (a.app_port, a.dapr_http_port, a.dapr_grpc_port),
        (Some(9000), Some(3600), None)
    );
    // An empty address disables the service; a bare host gets the default port.
    assert_eq!(a.placement_host_address, None);
    assert_eq!(b.placement_host_address.as_deref(), Some("placement.local:7000"));
    assert_eq!(a.scheduler_host_address.as_deref(), Some("scheduler.local:50006"));
    assert_eq!(
        a.daprd_flags,
        [
            "--log-level",
            "debug",
            "--app-health-probe-interval",
            "2",
            "--enable-api-logging"
        ]
    );
    assert_eq!(b.daprd_flags, ["--log-level", "debug"], "an empty value takes common's");
}

#[test]
fn a_key_the_runner_does_not_support_is_refused_by_name() {
    let home = dapr_home();
    for (key, expected) in [
        (
            "unixDomainSocket: /tmp/sock",
            "does not support: the sidecar listens on loopback TCP",
        ),
        ("metricsPort: 9090", "does not support: metrics are off"),
        ("containerImage: app:1", "Kubernetes"),
        ("appId: typo", "`appId` is not a key of the Dapr run file"),
    ] {
        let dir = tree(&[(
            "dapr.yaml",
            &format!("version: 1\napps:\n  - appDirPath: .\n    {key}\n"),
        )]);
        let error = error_of(&dir, &home);
        let name = key.split(':').next().unwrap();
        assert!(
            error.contains(&format!("`{name}`")) && error.contains(expected),
            "{key}: {error}"
        );
        assert!(error.contains("apps[0]"), "the error says where: {error}");
    }
    let dir = tree(&[(
        "dapr.yaml",
        "version: 1\ncommon:\n  appDirPath: .\napps:\n  - appDirPath: .\n",
    )]);
    let error = error_of(&dir, &home);
    assert!(error.contains("common") && error.contains("`appDirPath`"), "{error}");
}

#[test]
fn every_supported_key_is_read() {
    // A value of the wrong type for each key: the error must be about the value, never about an
    // unknown key, so SUPPORTED_KEYS and the parser agree.
    let home = dapr_home();
    for (section, keys) in SUPPORTED_KEYS {
        for key in *keys {
            let yaml = match *section {
                "top level" => format!("{key}: [[1]]\napps:\n  - appDirPath: .\n"),
                "apps[] only" => format!("version: 1\napps:\n  - {key}: [[1]]\n"),
                _ => format!("version: 1\ncommon:\n  {key}: [[1]]\napps:\n  - appDirPath: .\n    {key}: [[1]]\n"),
            };
            let dir = tree(&[("dapr.yaml", &yaml)]);
            let error = error_of(&dir, &home);
            assert!(!error.contains("unknown field"), "{section} {key}: {error}");
        }
    }
}

#[test]
fn bad_values_say_what_is_wrong() {
    let home = dapr_home();
    for (yaml, expected) in [
        ("apps:\n  - appDirPath: .\n", "missing field `version`"),
        ("version: 2\napps:\n  - appDirPath: .\n", "version: 2"),
        ("version: 1\napps: []\n", "no apps to run"),
        (
            "version: 1\napps:\n  - appID: x\n",
            "apps[0] (x): appDirPath is required",
        ),
        (
            "version: 1\napps:\n  - appDirPath: ./missing\n",
            "appDirPath: \"./missing\" does not exist",
        ),
        (
            "version: 1\napps:\n  - appDirPath: .\n    resourcesPath: ./nothing\n",
            "resourcesPath: \"./nothing\" does not exist",
        ),
        (
            "version: 1\napps:\n  - appDirPath: .\n    appPort: 70000\n",
            "apps[0].appPort",
        ),
        (
            "version: 1\napps:\n  - appDirPath: .\n    appProtocol: ftp\n",
            "appProtocol \"ftp\"",
        ),
        (
            "version: 1\napps:\n  - appDirPath: .\n    appLogDestination: printer\n",
            "apps[0].appLogDestination",
        ),
        (
            "version: 1\napps:\n  - appID: a\n    appDirPath: .\n  - appID: a\n    appDirPath: .\n",
            "appID \"a\" is used twice",
        ),
        (
            "version: 1\napps:\n  - appID: a.b\n    appDirPath: .\n",
            "cannot contain dots",
        ),
    ] {
        let dir = tree(&[("dapr.yaml", yaml)]);
        let error = error_of(&dir, &home);
        assert!(error.contains(expected), "{yaml}\n=> {error}");
    }
}

// ---------------------------------------------------------------------------------------------
// Real runs.

/// The runs share `dapr init`'s fixed ports: one at a time.
static FIXED_PORTS: Mutex<()> = Mutex::const_new(());

/// A shell app that will run `on_term` on SIGTERM (e.g. `exit 0`), then writes its environment
/// to `env.txt` (whole, by a rename: once the file is there, so is the trap), then waits.
fn shell_app(on_term: &str) -> String {
    format!(
        "command: [sh, -c, 'trap \"{on_term}\" TERM; env > env.tmp && mv env.tmp env.txt; \
         while :; do sleep 1 & wait $!; done']"
    )
}

/// Logs to files only; progress through the test harness's capture (shown when a test fails).
fn quiet() -> RunOptions {
    RunOptions::default()
        .console(false)
        .reporter(|line| eprintln!("{line}"))
}

/// The environment the shell app wrote, once it has (it is "ready" as soon as it runs).
async fn env_file(dir: &Path) -> Vec<String> {
    let path = dir.join("env.txt");
    let started = std::time::Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the app wrote no {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

fn process_env(pid: u32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/environ"))
        .unwrap()
        .split(|byte| *byte == 0)
        .map(|entry| String::from_utf8_lossy(entry).into_owned())
        .collect()
}

fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join(".dapr/logs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn apps_get_what_the_cli_gives_them_and_stop_cleanly() {
    let _turn = FIXED_PORTS.lock().await;
    let dir = tree(&[
        (
            "dapr.yaml",
            &format!(
                "version: 1
common:
  resourcesPath: ./components
  env:
    SHARED: common
    OVERRIDDEN: common
apps:
  - appID: alpha
    appDirPath: ./alpha
    appProtocol: http
    {}
    env:
      OVERRIDDEN: alpha
      DAPR_HTTP_PORT: '1'
  - appID: beta
    appDirPath: ./beta
",
                shell_app("exit 0")
            ),
        ),
        (
            "components/state.yaml",
            "apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: scratch
spec:
  type: state.in-memory
  version: v1
",
        ),
        ("alpha/", ""),
        ("beta/", ""),
    ]);
    let file = RunFile::load(&dir.path().join("dapr.yaml")).unwrap();
    let options = quiet()
        .env("RUNNER_ONLY", "exported")
        .env("APP_API_TOKEN", "app-secret");
    let run = MultiAppRun::start(&file, options).await.unwrap();
    let (alpha, beta) = (run.app("alpha").unwrap(), run.app("beta").unwrap());
    assert!(beta.app_pid().is_none(), "no command: the sidecar runs alone");

    // The app: the runner's environment, the CLI's variables, then the file's env: over them
    // (which is how the file's DAPR_HTTP_PORT wins, as with the CLI).
    let env = env_file(&dir.path().join("alpha")).await;
    for expected in [
        "APP_ID=alpha".to_owned(),
        format!("DAPR_GRPC_PORT={}", alpha.dapr_grpc_port()),
        "DAPR_HTTP_PORT=1".to_owned(),
        "APP_PROTOCOL=http".to_owned(),
        "SHARED=common".to_owned(),
        "OVERRIDDEN=alpha".to_owned(),
        "RUNNER_ONLY=exported".to_owned(),
        "APP_API_TOKEN=app-secret".to_owned(),
    ] {
        assert!(
            env.contains(&expected),
            "{expected} missing from the app's environment: {env:?}"
        );
    }
    assert!(
        !env.iter().any(|var| var.starts_with("APP_PORT=")),
        "no appPort, no APP_PORT"
    );

    // The sidecar: the runner's environment and DAPR_HOST_IP, not the file's env:.
    let sidecar_env = process_env(alpha.daprd().pid());
    for expected in [
        "RUNNER_ONLY=exported",
        "APP_API_TOKEN=app-secret",
        "DAPR_HOST_IP=127.0.0.1",
    ] {
        assert!(
            sidecar_env.iter().any(|var| var == expected),
            "{expected} missing from daprd's environment"
        );
    }
    assert!(!sidecar_env.iter().any(|var| var.starts_with("SHARED=")));

    // Resources from common's path, relative to the run file; each sidecar runs in its app's
    // directory and logs under its .dapr/logs.
    let metadata = beta.daprd().metadata().await.unwrap();
    assert!(
        metadata["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "scratch"),
        "{metadata}"
    );
    let daprd_cwd = fs::read_link(format!("/proc/{}/cwd", beta.daprd().pid())).unwrap();
    assert_eq!(daprd_cwd, dir.path().join("beta"));
    assert_eq!(
        alpha.daprd_log_path().parent().unwrap(),
        dir.path().join("alpha/.dapr/logs")
    );
    assert!(run.local_services().iter().any(|note| note.starts_with("scheduler:")));

    let (app_pid, daprd_pid) = (alpha.app_pid().unwrap(), alpha.daprd().pid());
    let report = run.stop().await.unwrap();
    let stopped = &report.apps[0];
    assert!(
        stopped.app_exit.unwrap().success() && stopped.daprd_exit.unwrap().success(),
        "{report}"
    );
    assert!(!stopped.app_exited_before_stop);
    for pid in [app_pid, daprd_pid] {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} survived the stop"
        );
    }
    let logs = log_files(&dir.path().join("alpha"));
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(logs[0].file_name().unwrap().to_string_lossy().starts_with("alpha_app_"));
    assert!(
        logs[1]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("alpha_daprd_")
    );
}

#[tokio::test]
async fn a_stop_that_is_not_clean_names_every_app_at_fault() {
    let _turn = FIXED_PORTS.lock().await;
    let dir = tree(&[
        (
            "dapr.yaml",
            &format!(
                "version: 1
common:
  resourcesPath: ./components
  placementHostAddress: ''
  schedulerHostAddress: ''
apps:
  - appID: fails
    appDirPath: ./fails
    {}
  - appID: killed
    appDirPath: ./killed
    command: [sleep, '600']
  - appID: stubborn
    appDirPath: ./stubborn
    {}
  - appID: clean
    appDirPath: ./clean
    {}
",
                shell_app("exit 3"),
                shell_app(""),
                shell_app("exit 0"),
            ),
        ),
        ("components/", ""),
        ("fails/", ""),
        ("killed/", ""),
        ("stubborn/", ""),
        ("clean/", ""),
    ]);
    let file = RunFile::load(dir.path()).unwrap();
    let run = MultiAppRun::start(&file, quiet().stop_timeout(Duration::from_secs(2)))
        .await
        .unwrap();
    for app in ["fails", "stubborn", "clean"] {
        env_file(&dir.path().join(app)).await;
    }
    let error = format!("{:#}", run.stop().await.unwrap_err());
    assert!(
        error.contains("app fails exited after SIGTERM with exit status: 3"),
        "{error}"
    );
    assert!(
        error.contains("app killed exited after SIGTERM with signal: 15"),
        "{error}"
    );
    assert!(
        error.contains("app stubborn did not exit within 2s of SIGTERM"),
        "{error}"
    );
    assert!(!error.contains("app clean"), "{error}");
}

#[tokio::test]
async fn an_app_can_be_killed_and_restarted_with_another_environment_beside_its_sidecar() {
    let _turn = FIXED_PORTS.lock().await;
    let dir = tree(&[
        (
            "dapr.yaml",
            &format!(
                "version: 1
common:
  resourcesPath: ./components
  placementHostAddress: ''
  schedulerHostAddress: ''
apps:
  - appID: phoenix
    appDirPath: ./phoenix
    {}
    env:
      MODE: first
",
                shell_app("exit 0")
            ),
        ),
        ("components/", ""),
        ("phoenix/", ""),
    ]);
    let app_dir = dir.path().join("phoenix");
    let file = RunFile::load(dir.path()).unwrap();
    let mut run = MultiAppRun::start(&file, quiet().env("RUNNER_ONLY", "exported"))
        .await
        .unwrap();
    let env = env_file(&app_dir).await;
    assert!(env.contains(&"MODE=first".to_owned()), "{env:?}");
    let (first_pid, sidecar_pid) = {
        let app = run.app("phoenix").unwrap();
        (app.app_pid().unwrap(), app.daprd().pid())
    };

    let killed = run.kill_app("phoenix").unwrap();
    assert_eq!(killed.to_string(), "signal: 9 (SIGKILL)");
    let exited = run.wait_for_app_exit("phoenix", Duration::from_secs(1)).await.unwrap();
    assert_eq!(exited, killed, "an exited app reports its status again");
    fs::remove_file(app_dir.join("env.txt")).unwrap();

    run.restart_app("phoenix", &[("MODE", Some("second")), ("RUNNER_ONLY", None)])
        .await
        .unwrap();
    let env = env_file(&app_dir).await;
    assert!(env.contains(&"MODE=second".to_owned()), "{env:?}");
    assert!(!env.iter().any(|line| line.starts_with("RUNNER_ONLY=")), "{env:?}");
    let app = run.app("phoenix").unwrap();
    assert_ne!(app.app_pid(), Some(first_pid), "a new process");
    assert_eq!(app.daprd().pid(), sidecar_pid, "the same sidecar");
    assert_eq!(
        log_files(&app_dir)
            .iter()
            .filter(|file| file.to_string_lossy().contains("_app_"))
            .count(),
        2
    );

    let report = run.stop().await.unwrap();
    assert!(
        report.apps[0].app_exit.is_some_and(|status| status.success()),
        "{report}"
    );
}

#[tokio::test]
async fn an_app_that_dies_during_start_up_fails_the_start_with_its_log() {
    let _turn = FIXED_PORTS.lock().await;
    let port = dapr_harness::free_port().unwrap();
    let dir = tree(&[
        (
            "dapr.yaml",
            &format!(
                "version: 1
apps:
  - appID: broken
    appDirPath: .
    resourcesPath: ./components
    placementHostAddress: ''
    schedulerHostAddress: ''
    appPort: {port}
    command: [sh, -c, 'echo the configuration is broken >&2; exit 7']
"
            ),
        ),
        ("components/", ""),
    ]);
    let file = RunFile::load(dir.path()).unwrap();
    let error = format!("{:#}", MultiAppRun::start(&file, quiet()).await.unwrap_err());
    assert!(
        error.contains("app broken exited during start-up (exit status: 7)"),
        "{error}"
    );
    assert!(error.contains("the configuration is broken"), "{error}");
}

#[tokio::test]
async fn an_app_port_already_in_use_is_refused_before_its_sidecar_starts() {
    let _turn = FIXED_PORTS.lock().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tree(&[
        (
            "dapr.yaml",
            &format!(
                "version: 1
common:
  placementHostAddress: ''
  schedulerHostAddress: ''
apps:
  - appID: late
    appDirPath: .
    resourcesPath: ./components
    appPort: {port}
    command: ['true']
"
            ),
        ),
        ("components/", ""),
    ]);
    let file = RunFile::load(dir.path()).unwrap();
    let error = format!("{:#}", MultiAppRun::start(&file, quiet()).await.unwrap_err());
    assert!(
        error.contains(&format!("appPort {port}")) && error.contains("already in use"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// A daprd behaviour that decides whether a stop is clean.

#[tokio::test]
async fn daprd_stopped_within_a_second_of_an_outbox_transaction_exits_1() {
    use dapr::dapr::proto::common::v1::StateItem;
    use dapr::dapr::proto::runtime::v1::{ExecuteStateTransactionRequest, TransactionalStateOperation};

    // daprd 1.18.2: the outbox's internal subscriber checks the commit about 1 s after it, in a
    // retry loop; a SIGTERM in that second closes the state store first, the loop can never
    // succeed, redis pub/sub's Close waits for it, and daprd's 5 s graceful shutdown ends in
    // "Graceful shutdown timeout exceeded" and exit status 1. Once the event is out, the same
    // stop is clean. This is why a test of a clean stop waits for its events first.
    let redis = dapr_harness::Redis::start().await.unwrap();
    let transact = |sidecar: &dapr_harness::Daprd, key: &'static str| {
        let sidecar_url = sidecar.grpc_url();
        async move {
            let channel = tonic::transport::Channel::from_shared(sidecar_url)
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut client = dapr::dapr::proto::runtime::v1::dapr_client::DaprClient::new(channel);
            client
                .execute_state_transaction(ExecuteStateTransactionRequest {
                    store_name: "statestore".into(),
                    operations: vec![TransactionalStateOperation {
                        operation_type: "upsert".into(),
                        request: Some(StateItem {
                            key: key.into(),
                            value: format!("\"{key}\"").into_bytes(),
                            ..Default::default()
                        }),
                    }],
                    metadata: Default::default(),
                })
                .await
                .unwrap();
        }
    };
    let logs = TempDir::with_prefix("outbox-stop-").unwrap();
    let sidecar = |log: &str| {
        dapr_harness::Daprd::builder("outbox-stop")
            .redis(&redis)
            .component("state/redis-outbox.yaml")
            .component("pubsub/redis.yaml")
            .log_file(logs.path().join(log))
            .start()
    };

    let hurried = sidecar("hurried.log").await.unwrap();
    transact(&hurried, "hurried-stop").await;
    let status = hurried.stop(Duration::from_secs(20)).await.unwrap();
    let log = fs::read_to_string(logs.path().join("hurried.log")).unwrap();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("Graceful shutdown timeout exceeded"), "{log}");

    let patient = sidecar("patient.log").await.unwrap();
    transact(&patient, "patient-stop").await;
    let started = std::time::Instant::now();
    while !dapr_harness::redis_stream_entries(redis.port(), "domain-events")
        .await
        .unwrap()
        .contains("patient-stop")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no outbox event for patient-stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = patient.stop(Duration::from_secs(20)).await.unwrap();
    assert!(status.success(), "{status}");
}
