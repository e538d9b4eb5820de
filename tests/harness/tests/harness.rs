//! The harness's own promises: processes die with their handle, taken ports are retried, a
//! missing runtime says how to install it, and parallel stacks do not collide.

use std::collections::HashSet;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dapr_harness::{DaprRuntime, ManagedProcess, Redis, Stack, StartError, free_port, start_with_retries};

#[tokio::test]
async fn dropping_a_handle_kills_its_process() {
    let redis = Redis::start().await.unwrap();
    let port = redis.port();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
    drop(redis);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "redis still listens on {port}"
    );
}

#[tokio::test]
async fn a_port_taken_by_another_process_is_reported_as_such() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new("redis-server");
    command.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""]);
    let mut process = ManagedProcess::spawn("redis-server", command, &dir.path().join("log")).unwrap();
    let outcome = process
        .wait_until_ready(Duration::from_secs(10), || async { false })
        .await;
    assert!(matches!(outcome, Err(StartError::PortTaken)), "{outcome:?}");
}

#[tokio::test]
async fn a_taken_port_is_retried_but_other_failures_are_not() {
    let attempts = AtomicUsize::new(0);
    let started = start_with_retries("flaky", || async {
        match attempts.fetch_add(1, Ordering::SeqCst) {
            0 | 1 => Err(StartError::PortTaken),
            _ => Ok("up"),
        }
    })
    .await
    .unwrap();
    assert_eq!((started, attempts.load(Ordering::SeqCst)), ("up", 3));

    let attempts = AtomicUsize::new(0);
    let error = start_with_retries::<(), _, _>("broken", || async {
        attempts.fetch_add(1, Ordering::SeqCst);
        Err(StartError::Failed(anyhow::anyhow!("bad flag")))
    })
    .await
    .unwrap_err();
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert!(format!("{error:#}").contains("starting broken: bad flag"), "{error:#}");
}

#[test]
fn a_missing_runtime_names_the_install_command() {
    let empty = tempfile::tempdir().unwrap();
    let error = DaprRuntime::in_dir(empty.path()).unwrap_err().to_string();
    assert!(error.contains("make dapr") && error.contains("daprd"), "{error}");
}

#[test]
fn free_ports_are_never_handed_out_twice() {
    let ports: HashSet<u16> = (0..200).map(|_| free_port().unwrap()).collect();
    assert_eq!(ports.len(), 200);
}

#[tokio::test]
async fn stacks_started_in_parallel_do_not_collide() {
    let (a, b) = tokio::try_join!(Stack::start(), Stack::start()).unwrap();
    let addresses: HashSet<String> = [&a, &b]
        .iter()
        .flat_map(|stack| {
            [
                stack.redis.address(),
                stack.placement.address(),
                stack.scheduler.address(),
            ]
        })
        .collect();
    assert_eq!(addresses.len(), 6, "{addresses:?}");
    let (left, right) = tokio::try_join!(a.daprd("left").start(), b.daprd("right").start()).unwrap();
    assert_ne!(left.http_port(), right.http_port());
}
