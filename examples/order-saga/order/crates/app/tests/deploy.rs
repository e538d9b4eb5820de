//! The deployment files agree with each other and with the configuration: every manifest of
//! `deploy/`, the Dapr resources of `components/` and `dapr.yaml` are read into typed structures
//! (Kubernetes types from `k8s-openapi`, small strict ones for Dapr's), so a typo in a field name
//! fails here rather than in a cluster.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodSpec, Probe, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use order::Settings;
use serde::Deserialize;
use serde::de::DeserializeOwned;

const APP_ID: &str = env!("CARGO_PKG_NAME");

fn service_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read<T: DeserializeOwned>(relative: &str) -> T {
    let path = service_root().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

fn settings() -> Settings {
    Settings::load_from(&service_root().join("config/default.toml"), HashMap::new())
        .expect("config/default.toml")
}

// Dapr's resources, as far as this service uses them. Unknown fields are refused, so a misspelt
// field fails the test instead of being ignored by the sidecar.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Component {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    spec: ComponentSpec,
    #[serde(default)]
    auth: Option<ComponentAuth>,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentSpec {
    #[serde(rename = "type")]
    component_type: String,
    version: String,
    metadata: Vec<MetadataItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MetadataItem {
    name: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    secret_key_ref: Option<SecretKeyRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretKeyRef {
    name: String,
    key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ComponentAuth {
    secret_store: String,
}

impl Component {
    fn name(&self) -> &str {
        self.metadata.name.as_deref().expect("metadata.name")
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.spec
            .metadata
            .iter()
            .find(|item| item.name == name)
            .and_then(|item| item.value.as_deref())
    }

    fn assert_is_component(&self) {
        assert_eq!(
            (self.api_version.as_str(), self.kind.as_str()),
            ("dapr.io/v1alpha1", "Component"),
            "{}",
            self.name()
        );
        assert_eq!(self.spec.version, "v1", "{}", self.name());
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Resiliency {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    spec: ResiliencySpec,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResiliencySpec {
    policies: Policies,
    targets: Targets,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Policies {
    #[serde(default)]
    timeouts: BTreeMap<String, String>,
    #[serde(default)]
    retries: BTreeMap<String, Retry>,
    #[serde(default)]
    circuit_breakers: BTreeMap<String, CircuitBreaker>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Retry {
    policy: String,
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    max_interval: Option<String>,
    max_retries: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CircuitBreaker {
    max_requests: u32,
    interval: String,
    timeout: String,
    trip: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Targets {
    components: BTreeMap<String, ComponentTargets>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentTargets {
    #[serde(default)]
    outbound: Option<TargetPolicies>,
    #[serde(default)]
    inbound: Option<TargetPolicies>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TargetPolicies {
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    retry: Option<String>,
    #[serde(default)]
    circuit_breaker: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Configuration {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    spec: ConfigurationSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigurationSpec {
    tracing: Tracing,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Tracing {
    sampling_rate: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Kustomization {
    api_version: String,
    kind: String,
    labels: Vec<KustomizeLabels>,
    resources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KustomizeLabels {
    pairs: BTreeMap<String, String>,
}

/// `dapr.yaml`, the multi-app run file of the Dapr CLI.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunFile {
    version: u32,
    common: RunCommon,
    apps: Vec<RunApp>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RunCommon {
    resources_path: String,
    config_file_path: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)] // the CLI's own spelling of `appID`
struct RunApp {
    appID: String,
    appDirPath: String,
    appPort: u16,
    appProtocol: String,
    enableAppHealthCheck: bool,
    appHealthCheckPath: String,
    command: Vec<String>,
    appLogDestination: String,
    daprdLogDestination: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

/// The resiliency policies refer only to components and policies that exist.
fn assert_consistent(resiliency: &Resiliency, component_names: &BTreeSet<String>) {
    assert_eq!(
        (resiliency.api_version.as_str(), resiliency.kind.as_str()),
        ("dapr.io/v1alpha1", "Resiliency")
    );
    let policies = &resiliency.spec.policies;
    for (name, retry) in &policies.retries {
        assert!(
            ["constant", "exponential"].contains(&retry.policy.as_str()),
            "retry {name}: {}",
            retry.policy
        );
        assert!(
            retry.duration.is_some() || retry.max_interval.is_some(),
            "retry {name} has no interval"
        );
        assert!(retry.max_retries >= -1, "retry {name}");
    }
    for (name, breaker) in &policies.circuit_breakers {
        assert!(
            breaker.max_requests > 0 && !breaker.interval.is_empty() && !breaker.timeout.is_empty(),
            "breaker {name}"
        );
        assert!(
            breaker.trip.contains("consecutiveFailures"),
            "breaker {name}: {}",
            breaker.trip
        );
    }
    for (component, targets) in &resiliency.spec.targets.components {
        assert!(
            component_names.contains(component),
            "resiliency targets unknown component {component}"
        );
        for target in targets.outbound.iter().chain(&targets.inbound) {
            if let Some(timeout) = &target.timeout {
                assert!(
                    policies.timeouts.contains_key(timeout),
                    "{component}: no timeout policy {timeout}"
                );
            }
            if let Some(retry) = &target.retry {
                assert!(
                    policies.retries.contains_key(retry),
                    "{component}: no retry policy {retry}"
                );
            }
            if let Some(breaker) = &target.circuit_breaker {
                assert!(
                    policies.circuit_breakers.contains_key(breaker),
                    "{component}: no circuit breaker {breaker}"
                );
            }
        }
    }
}

/// The components the configuration names, of the types the chosen options call for, with the
/// outbox publishing through the pub/sub component.
fn assert_components(statestore: &Component, pubsub: &Component) {
    let settings = settings();
    for component in [statestore, pubsub] {
        component.assert_is_component();
    }
    assert_eq!(statestore.name(), settings.dapr.sidecar.state_store);
    assert_eq!(statestore.spec.component_type, "state.redis");
    assert_eq!(
        statestore.value("actorStateStore"),
        Some("true"),
        "workflows and actors need it"
    );
    assert_eq!(statestore.value("outboxPublishPubsub"), Some(pubsub.name()));
    assert_eq!(
        statestore.value("outboxPublishTopic"),
        Some("domain-events")
    );
    assert_eq!(pubsub.name(), settings.dapr.pubsub);
    assert_eq!(pubsub.spec.component_type, "pubsub.redis");
}

fn names(components: &[&Component]) -> BTreeSet<String> {
    components
        .iter()
        .map(|component| component.name().to_owned())
        .collect()
}

#[test]
fn local_components_match_the_configuration() {
    let statestore: Component = read("components/statestore.yaml");
    let pubsub: Component = read("components/pubsub.yaml");
    assert_components(&statestore, &pubsub);
    let resiliency: Resiliency = read("components/resiliency.yaml");
    assert_consistent(&resiliency, &names(&[&statestore, &pubsub]));
    let configuration: Configuration = read("components/config.yaml");
    assert_eq!(configuration.kind, "Configuration");
    assert_eq!(configuration.spec.tracing.sampling_rate, "1");
}

#[test]
fn the_run_file_starts_this_app_on_its_configured_port() {
    let run: RunFile = read("dapr.yaml");
    assert_eq!(run.version, 1);
    assert!(
        service_root().join(&run.common.resources_path).is_dir(),
        "{}",
        run.common.resources_path
    );
    assert!(
        service_root().join(&run.common.config_file_path).is_file(),
        "{}",
        run.common.config_file_path
    );
    let [app] = run.apps.as_slice() else {
        panic!("one app expected: {:?}", run.apps)
    };
    assert_eq!(app.appID, APP_ID);
    assert_eq!(app.appDirPath, ".");
    assert_eq!(app.appPort, settings().http.port);
    assert_eq!(app.appProtocol, "http");
    assert!(app.enableAppHealthCheck);
    assert_eq!(app.appHealthCheckPath, "/healthz");
    assert_eq!(app.command[..2], ["cargo", "run"]);
    assert_eq!(
        (
            app.appLogDestination.as_str(),
            app.daprdLogDestination.as_str()
        ),
        ("console", "file")
    );
    assert!(
        !app.env.contains_key("APP_API_TOKEN") && !app.env.contains_key("DAPR_API_TOKEN"),
        "the CLI gives env: to the app only, so a token there would not reach the sidecar"
    );
}

#[test]
fn kustomization_lists_every_manifest() {
    let kustomization: Kustomization = read("deploy/kustomization.yaml");
    assert_eq!(kustomization.api_version, "kustomize.config.k8s.io/v1beta1");
    assert_eq!(kustomization.kind, "Kustomization");
    assert_eq!(
        kustomization.labels[0]
            .pairs
            .get("app.kubernetes.io/part-of")
            .map(String::as_str),
        Some(APP_ID)
    );
    let mut on_disk = BTreeSet::new();
    for (directory, prefix) in [("deploy", ""), ("deploy/dapr", "dapr/")] {
        for entry in std::fs::read_dir(service_root().join(directory)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".yaml") && name != "kustomization.yaml" {
                on_disk.insert(format!("{prefix}{name}"));
            }
        }
    }
    let listed: BTreeSet<String> = kustomization.resources.into_iter().collect();
    assert_eq!(listed, on_disk);
}

fn deployment() -> Deployment {
    read("deploy/deployment.yaml")
}

fn pod_spec(deployment: &Deployment) -> &PodSpec {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.template.spec.as_ref())
        .expect("a pod spec")
}

fn app_container(deployment: &Deployment) -> &Container {
    let containers = &pod_spec(deployment).containers;
    assert_eq!(containers.len(), 1, "the sidecar is injected, not declared");
    &containers[0]
}

fn annotation<'deployment>(deployment: &'deployment Deployment, key: &str) -> &'deployment str {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.template.metadata.as_ref())
        .and_then(|metadata| metadata.annotations.as_ref())
        .and_then(|annotations| annotations.get(key))
        .unwrap_or_else(|| panic!("annotation {key} missing"))
}

fn seconds(duration: &str) -> i64 {
    duration
        .strip_suffix('s')
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or_else(|| panic!("{duration:?} is not N s"))
}

fn http_get(probe: Option<&Probe>) -> (&str, &IntOrString) {
    let action = probe
        .and_then(|probe| probe.http_get.as_ref())
        .expect("an HTTP probe");
    (action.path.as_deref().unwrap(), &action.port)
}

fn container_port(container: &Container, name: &str) -> i32 {
    container
        .ports
        .iter()
        .flatten()
        .find(|port| port.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no container port {name}"))
        .container_port
}

#[test]
fn the_sidecar_is_annotated_for_this_app() {
    let deployment = deployment();
    let settings = settings();
    assert_eq!(annotation(&deployment, "dapr.io/enabled"), "true");
    assert_eq!(annotation(&deployment, "dapr.io/app-id"), APP_ID);
    assert_eq!(
        annotation(&deployment, "dapr.io/app-port"),
        settings.http.port.to_string()
    );
    assert_eq!(annotation(&deployment, "dapr.io/app-protocol"), "http");
    assert_eq!(
        annotation(&deployment, "dapr.io/enable-app-health-check"),
        "true"
    );
    assert_eq!(
        annotation(&deployment, "dapr.io/app-health-check-path"),
        "/healthz"
    );
    let configuration: Configuration = read("deploy/dapr/configuration.yaml");
    assert_eq!(
        annotation(&deployment, "dapr.io/config"),
        configuration.metadata.name.as_deref().unwrap()
    );
}

#[test]
fn the_app_reads_the_tokens_from_the_secrets_the_sidecar_uses() {
    let deployment = deployment();
    let env = app_container(&deployment).env.as_ref().expect("env");
    let tokens = [("APP_API_TOKEN", "dapr.io/app-token-secret")];
    for (variable, annotation_key) in tokens {
        let reference = env
            .iter()
            .find(|var| var.name == variable)
            .and_then(|var| var.value_from.as_ref())
            .and_then(|source| source.secret_key_ref.as_ref())
            .unwrap_or_else(|| panic!("{variable} must come from a secret"));
        assert_eq!(
            reference.name,
            annotation(&deployment, annotation_key),
            "{variable}"
        );
        assert_eq!(reference.key, "token", "the injector reads the key `token`");
    }
    let annotations = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.template.metadata.as_ref())
        .and_then(|metadata| metadata.annotations.as_ref())
        .unwrap();
    assert!(
        !annotations.contains_key("dapr.io/api-token-secret")
            && env.iter().all(|var| var.name != "DAPR_API_TOKEN"),
        "the workflow client sends no API token: a sidecar requiring one would refuse workflows"
    );
}

#[test]
fn probes_check_liveness_and_readiness_on_the_http_port() {
    let deployment = deployment();
    let container = app_container(&deployment);
    let http = IntOrString::String("http".to_owned());
    assert_eq!(
        http_get(container.liveness_probe.as_ref()),
        ("/healthz", &http)
    );
    assert_eq!(
        http_get(container.readiness_probe.as_ref()),
        ("/readyz", &http)
    );
    assert_eq!(
        http_get(container.startup_probe.as_ref()),
        ("/healthz", &http)
    );
    assert_eq!(
        container_port(container, "http"),
        i32::from(settings().http.port)
    );
    let startup = container.startup_probe.as_ref().unwrap();
    let startup_budget_ms =
        i64::from(startup.period_seconds.unwrap() * startup.failure_threshold.unwrap()) * 1000;
    assert!(
        startup_budget_ms > i64::try_from(settings().sidecar_wait_ms).unwrap(),
        "the start-up probe must outlast the wait for the sidecar"
    );
}

#[test]
fn rollouts_keep_the_service_up() {
    let deployment = deployment();
    let spec = deployment.spec.as_ref().unwrap();
    let strategy = spec.strategy.as_ref().expect("a strategy");
    assert!(
        spec.replicas.unwrap_or(1) >= 2,
        "one replica cannot be updated without downtime"
    );
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.as_ref().unwrap();
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));
    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.labels.as_ref())
        .unwrap();
    for (key, value) in spec.selector.match_labels.as_ref().unwrap() {
        assert_eq!(
            labels.get(key),
            Some(value),
            "the selector must match the pod labels"
        );
    }
}

#[test]
fn termination_leaves_time_for_the_drain() {
    let deployment = deployment();
    let settings = settings();
    let pre_stop = app_container(&deployment)
        .lifecycle
        .as_ref()
        .and_then(|lifecycle| lifecycle.pre_stop.as_ref())
        .and_then(|handler| handler.sleep.as_ref())
        .expect("a preStop sleep")
        .seconds;
    let drain = i64::try_from(settings.shutdown_timeout_ms.div_ceil(1000)).unwrap();
    let sidecar_shutdown: i64 = annotation(&deployment, "dapr.io/graceful-shutdown-seconds")
        .parse()
        .unwrap();
    let blocked = seconds(annotation(&deployment, "dapr.io/block-shutdown-duration"));
    assert!(
        blocked >= pre_stop + drain,
        "the sidecar must serve the app until it has drained"
    );
    let grace = pod_spec(&deployment)
        .termination_grace_period_seconds
        .expect("terminationGracePeriodSeconds");
    assert!(
        grace > blocked.max(pre_stop + drain) + sidecar_shutdown,
        "grace {grace} s is too short"
    );
}

#[test]
fn the_app_runs_unprivileged_with_bounded_resources() {
    let deployment = deployment();
    let pod = pod_spec(&deployment)
        .security_context
        .as_ref()
        .expect("a pod security context");
    assert_eq!(pod.run_as_non_root, Some(true));
    assert!(pod.run_as_user.is_some_and(|user| user != 0));
    let container = app_container(&deployment);
    let security = container
        .security_context
        .as_ref()
        .expect("a container security context");
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(
        security
            .capabilities
            .as_ref()
            .and_then(|capabilities| capabilities.drop.clone()),
        Some(vec!["ALL".to_owned()])
    );
    let resources = container.resources.as_ref().expect("resources");
    let requests = resources.requests.as_ref().expect("requests");
    assert!(requests.contains_key("cpu") && requests.contains_key("memory"));
    assert!(
        resources
            .limits
            .as_ref()
            .is_some_and(|limits| limits.contains_key("memory"))
    );
}

#[test]
fn the_service_routes_to_the_pods_ports() {
    let service: Service = read("deploy/service.yaml");
    let deployment = deployment();
    let spec = service.spec.as_ref().unwrap();
    let pod_labels = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.template.metadata.as_ref())
        .and_then(|metadata| metadata.labels.clone())
        .unwrap();
    for (key, value) in spec.selector.as_ref().unwrap() {
        assert_eq!(pod_labels.get(key), Some(value));
    }
    let container = app_container(&deployment);
    let mut targets = Vec::new();
    for port in spec.ports.iter().flatten() {
        let Some(IntOrString::String(target)) = &port.target_port else {
            panic!("target ports are named")
        };
        container_port(container, target);
        targets.push(target.as_str());
    }
    assert_eq!(targets, ["http"]);
}

#[test]
fn cluster_components_match_the_configuration_and_keep_secrets_out() {
    let statestore: Component = read("deploy/dapr/statestore.yaml");
    let pubsub: Component = read("deploy/dapr/pubsub.yaml");
    assert_components(&statestore, &pubsub);
    for component in [&statestore, &pubsub] {
        for item in &component.spec.metadata {
            if item.name.to_lowercase().contains("password") {
                assert!(
                    item.value.is_none() && item.secret_key_ref.is_some(),
                    "{}: {} must come from a secret",
                    component.name(),
                    item.name
                );
            }
            if let Some(reference) = &item.secret_key_ref {
                assert!(!reference.name.is_empty() && !reference.key.is_empty());
                let auth = component
                    .auth
                    .as_ref()
                    .map(|auth| auth.secret_store.as_str());
                assert_eq!(auth, Some("kubernetes"), "{}", component.name());
            }
        }
    }
    assert_eq!(statestore.scopes, [APP_ID], "the state is this app's alone");
    let resiliency: Resiliency = read("deploy/dapr/resiliency.yaml");
    assert_eq!(resiliency.scopes, [APP_ID]);
    assert!(resiliency.metadata.name.is_some());
    assert_consistent(&resiliency, &names(&[&statestore, &pubsub]));
    let configuration: Configuration = read("deploy/dapr/configuration.yaml");
    assert_eq!(
        (
            configuration.api_version.as_str(),
            configuration.kind.as_str()
        ),
        ("dapr.io/v1alpha1", "Configuration")
    );
    let rate: f64 = configuration.spec.tracing.sampling_rate.parse().unwrap();
    assert!((0.0..=1.0).contains(&rate));
}
