//! `daprgen doctor` against real services: a redis, placement and scheduler started by the
//! harness answer as ok; closed ports and an empty Dapr directory fail or warn with their fix.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dapr_harness::{DaprRuntime, Stack, free_port};
use daprgen::doctor::{self, DoctorOptions, DoctorReport, Status, check_names as names};

fn options(redis: String, placement: String, scheduler: String, dapr_bin_dir: Option<PathBuf>) -> DoctorOptions {
    DoctorOptions {
        redis,
        placement,
        scheduler,
        dapr_bin_dir,
        timeout: Duration::from_millis(500),
        ..DoctorOptions::default()
    }
}

/// The check called `name`, or a panic that shows the whole report.
fn check<'a>(report: &'a DoctorReport, name: &str) -> &'a doctor::Check {
    report
        .check(name)
        .unwrap_or_else(|| panic!("no {name:?} check in:\n{}", report.render(false)))
}

fn assert_status(report: &DoctorReport, name: &str, status: Status) {
    let found = check(report, name);
    assert_eq!(found.status, status, "{name}:\n{}", report.render(false));
}

fn fix<'a>(report: &'a DoctorReport, name: &str) -> &'a str {
    check(report, name)
        .fix
        .as_deref()
        .unwrap_or_else(|| panic!("{name} has no fix:\n{}", report.render(false)))
}

#[tokio::test]
async fn a_running_stack_and_the_pinned_runtime_are_ok() {
    let runtime = DaprRuntime::locate().expect("the pinned Dapr runtime (run `make dapr`)");
    let bin_dir = runtime.binary("daprd").parent().unwrap().to_owned();
    let stack = Stack::start().await.expect("redis, placement and scheduler start");
    let options = options(
        stack.redis.address(),
        stack.placement.address(),
        stack.scheduler.address(),
        Some(bin_dir.clone()),
    );
    let report = tokio::task::spawn_blocking(move || doctor::run(&options))
        .await
        .unwrap();

    for name in [
        names::RUSTC,
        names::CARGO,
        names::DAPRD,
        names::CONTROL_PLANE_BINARIES,
        names::REDIS,
        names::PLACEMENT,
        names::SCHEDULER,
    ] {
        assert_status(&report, name, Status::Ok);
    }
    // The CLI is optional: whatever this machine has, it is never what fails the report.
    assert_ne!(check(&report, names::DAPR_CLI).status, Status::Fail);
    assert!(report.passed(), "{}", report.render(false));
    assert!(check(&report, names::REDIS).detail.contains("answers PING"));
    let daprd = &check(&report, names::DAPRD).detail;
    assert!(
        daprd.starts_with(&format!("{} at ", dapr_harness::pinned_runtime_version())),
        "{daprd}"
    );
    let text = report.render(false);
    assert!(text.contains("\nready: "), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[tokio::test]
async fn closed_ports_fail_redis_and_warn_about_the_control_plane_with_their_fixes() {
    let runtime = DaprRuntime::locate().expect("the pinned Dapr runtime (run `make dapr`)");
    let bin_dir = runtime.binary("daprd").parent().unwrap().to_owned();
    // Ports the kernel just handed out and nothing listens on.
    let closed = || format!("127.0.0.1:{}", free_port().unwrap());
    let options = options(closed(), closed(), closed(), Some(bin_dir));
    let started = Instant::now();
    let report = tokio::task::spawn_blocking(move || doctor::run(&options))
        .await
        .unwrap();
    let elapsed = started.elapsed();

    assert_status(&report, names::REDIS, Status::Fail);
    assert!(fix(&report, names::REDIS).contains("redis-server"));
    assert_status(&report, names::PLACEMENT, Status::Warn);
    assert!(
        check(&report, names::PLACEMENT)
            .detail
            .contains("needed for workflows and actors")
    );
    assert!(fix(&report, names::PLACEMENT).contains("dapr init"));
    assert_status(&report, names::SCHEDULER, Status::Warn);
    assert!(fix(&report, names::SCHEDULER).contains("--etcd-data-dir"));
    assert!(!report.passed());

    let text = report.render(false);
    let redis_line = text
        .lines()
        .position(|line| line.starts_with("FAIL  redis "))
        .unwrap_or_else(|| panic!("no FAIL line for redis:\n{text}"));
    let next = text.lines().nth(redis_line + 1).unwrap_or_default();
    assert!(next.trim_start().starts_with("fix: start redis"), "{text}");
    assert!(text.contains("\nnot ready: 1 check failed, "), "{text}");
    // The checks run side by side: refused connections cost nothing like one timeout each.
    assert!(elapsed < Duration::from_secs(5), "doctor took {elapsed:?}");
}

#[test]
fn an_empty_dapr_directory_and_path_fail_with_the_install_commands() {
    let empty = tempfile::tempdir().unwrap();
    let options = DoctorOptions {
        dapr_bin_dir: Some(empty.path().to_owned()),
        search_path: Some(empty.path().as_os_str().to_owned()),
        ..options(String::new(), String::new(), String::new(), None)
    };
    let report = doctor::run(&options);

    assert_status(&report, names::DAPRD, Status::Fail);
    assert!(fix(&report, names::DAPRD).contains("make dapr"));
    assert!(fix(&report, names::DAPRD).contains(&format!(
        "dapr init --runtime-version {}",
        dapr_harness::pinned_runtime_version()
    )));
    assert_status(&report, names::CONTROL_PLANE_BINARIES, Status::Warn);
    assert_status(&report, names::DAPR_CLI, Status::Warn);
    assert!(fix(&report, names::DAPR_CLI).contains("make dapr"));
    for tool in [names::RUSTC, names::CARGO] {
        assert_status(&report, tool, Status::Fail);
        assert!(fix(&report, tool).contains("rustup"));
    }
    // An empty address is no address: reported, not a panic.
    assert_status(&report, names::REDIS, Status::Fail);
    assert!(!report.passed());
}
