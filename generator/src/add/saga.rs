//! `daprgen add saga NAME --step ACTION:COMPENSATION...`: a saga, a business transaction across
//! services whose completed steps are undone in reverse order when a later one fails.
//!
//! - biz: `saga.rs`, the runner every saga shares (`run_saga`: the actions in order, then the
//!   compensations of the steps done, last first), and `<name>_saga.rs` with the steps, the port of
//!   its operations (one method per action and per compensation, mocked with mockall), the
//!   workflow port, the start/status use case, and unit tests asserting the exact operations and
//!   their order for a failure at every step;
//! - data: `dapr_<name>_saga.rs`, the saga on Dapr Workflow (one workflow, one activity per action
//!   and per compensation, retry policies) and its operations as Dapr service invocations with an
//!   `Idempotency-Key`, through `dapr_invocation.rs`, shared; the targets are configuration
//!   (`[dapr] <name>_saga.<operation>`), defaulting to what `--step …@APP_ID` says;
//! - service (HTTP services): `POST /sagas/<name>` (202 + Location) and `GET /sagas/<name>/{id}`,
//!   with their OpenAPI description;
//! - wiring: the workflow worker registers the saga's workflow and activities; shaku components,
//!   settings, routes, test doubles.
//!
//! A saga needs the workflow engine: a service generated with `with_workflow=false` is refused.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use heck::{ToKebabCase, ToPascalCase};
use serde::Serialize;
use serde_json::Value;

use super::consumer::wiring;
use super::engine::Plan;
use super::names::{self, Spellings};
use super::service::Service;
use super::templates::Templates;
use crate::bail_input;

/// Most steps a saga may have: more is a process to split, and every step is one more activity
/// and one more compensation to reason about.
pub const MAX_STEPS: usize = 20;
/// Longest saga or operation name: it ends up in workflow and activity names, configuration keys
/// and idempotency keys (at most 255 characters with a 128-character saga id).
pub const MAX_NAME_LEN: usize = 60;

/// Names an operation cannot have: the mock mockall makes of the steps port has methods of
/// these names already (`new`, `checkpoint`, `default` through `Default`).
const RESERVED_OPERATIONS: &[&str] = &["new", "checkpoint", "default"];

/// `daprgen add saga NAME --step ACTION:COMPENSATION[@APP_ID]...`.
#[derive(Debug, Clone, clap::Args)]
pub struct SagaArgs {
    /// The saga's name, snake_case, e.g. order_fulfilment (code names add `_saga`).
    pub name: String,
    /// A step, in the order they run: its action and the compensation that undoes it, e.g.
    /// reserve_stock:release_stock; `@APP_ID` sends both to that Dapr app (default: this service),
    /// e.g. reserve_stock:release_stock@inventory. Repeat for each step.
    #[arg(long = "step", value_name = "ACTION:COMPENSATION[@APP_ID]", required = true)]
    pub steps: Vec<String>,
}

/// One action or compensation, as the templates use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperationContext {
    /// `reserve_stock`: the port's method, the activity's suffix, the configuration key.
    pub snake: String,
    /// The Dapr app it is sent to by default.
    pub app_id: String,
    /// The method of that app it is sent to by default: `reserve-stock`.
    pub method: String,
}

/// One step, as the templates use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepContext {
    /// 1 for the first step.
    pub number: usize,
    /// The step's enum variant: the action in PascalCase, `ReserveStock`.
    pub variant: String,
    /// Its action.
    pub action: OperationContext,
    /// The compensation that undoes it.
    pub compensation: OperationContext,
}

/// The operations that run when the action `failing` fails, in order (for the unit tests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureCase {
    /// The failing action.
    pub failing: String,
    /// Every operation that runs, in order: the actions up to `failing`, then the compensations.
    pub operations: Vec<String>,
}

/// What the saga templates are rendered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SagaContext {
    /// The saga's name in its spellings: `order_fulfilment`, `OrderFulfilment`, `order-fulfilment`.
    pub saga: Spellings,
    /// The service's first resource: its module holds `ValidationError`.
    pub resource: String,
    /// Whether the service has an HTTP API (routes, OpenAPI).
    pub http: bool,
    /// The steps, in order.
    pub steps: Vec<StepContext>,
    /// The first step (examples in tests).
    pub first: StepContext,
    /// The last step.
    pub last: StepContext,
    /// Every operation: each step's action, then its compensation.
    pub operations: Vec<OperationContext>,
    /// How many steps.
    pub step_count: usize,
    /// How many operations (twice the steps).
    pub operation_count: usize,
    /// The operations for a refused action at each step: the steps before it are undone.
    pub refused_at: Vec<FailureCase>,
    /// The operations for an action that stays unavailable at each step: it may have taken
    /// effect, so it is undone too, first.
    pub unavailable_at: Vec<FailureCase>,
}

impl SagaContext {
    /// Where the biz part goes.
    pub fn biz_path(&self) -> PathBuf {
        PathBuf::from(format!("crates/biz/src/{}_saga.rs", self.saga.snake))
    }

    /// Where the data part goes.
    pub fn data_path(&self) -> PathBuf {
        PathBuf::from(format!("crates/data/src/dapr_{}_saga.rs", self.saga.snake))
    }

    /// Where the HTTP routes go.
    pub fn http_path(&self) -> PathBuf {
        PathBuf::from(format!("crates/service/src/http/{}_saga.rs", self.saga.snake))
    }
}

/// The files every saga shares, created by the first `add saga` (later ones find them identical).
const SHARED_FILES: &[(&str, &str)] = &[
    ("saga/biz/saga.rs.hbs", "crates/biz/src/saga.rs"),
    ("saga/data/invocation.rs.hbs", "crates/data/src/dapr_invocation.rs"),
];

/// The plan of `daprgen add saga`.
pub fn plan(service: &Service, templates: &Templates, args: &SagaArgs) -> anyhow::Result<Plan> {
    let context = context(service, args)?;
    check_collisions(service, &context)?;
    let mut plan = Plan::new(format!("add saga {}", context.saga.snake));
    for (template, path) in SHARED_FILES {
        plan.create(*path, templates.render(template, &context)?);
    }
    plan.create(context.biz_path(), templates.render("saga/biz/steps.rs.hbs", &context)?);
    plan.create(
        context.data_path(),
        templates.render("saga/data/workflow.rs.hbs", &context)?,
    );
    if context.http {
        plan.create(
            "crates/service/src/http/saga.rs",
            templates.render("saga/service/saga.rs.hbs", &context)?,
        );
        plan.create(
            context.http_path(),
            templates.render("saga/service/http.rs.hbs", &context)?,
        );
        plan.insert(
            "crates/api/src/http.rs",
            "http-bodies",
            templates.render("saga/api/http.rs.hbs", &context)?,
        );
    }
    let name = "saga/wiring.hbs";
    for (path, anchor, text) in wiring(name, &templates.render(name, &context)?)? {
        plan.insert(path, &anchor, text);
    }
    if context.http {
        let name = "saga/service/openapi.json.hbs";
        let fragment: BTreeMap<String, Value> = serde_json::from_str(&templates.render(name, &context)?)
            .with_context(|| format!("{name} does not render to a JSON object"))?;
        let part = |key: &str| {
            fragment
                .get(key)
                .cloned()
                .with_context(|| format!("{name} has no {key:?}"))
        };
        let object = |key: &str| -> anyhow::Result<serde_json::Map<String, Value>> {
            part(key)?
                .as_object()
                .cloned()
                .with_context(|| format!("{name}: {key:?} is not an object"))
        };
        plan.merge_json("openapi.json", "/paths", object("paths")?);
        plan.merge_json("openapi.json", "/components/schemas", object("schemas")?);
        let tags = part("tags")?
            .as_array()
            .cloned()
            .with_context(|| format!("{name}: \"tags\" is not an array"))?;
        plan.append_json("openapi.json", "/tags", tags);
    }
    Ok(plan)
}

/// Checks the arguments and derives every name from them.
pub fn context(service: &Service, args: &SagaArgs) -> anyhow::Result<SagaContext> {
    if !service.info.with_workflow {
        bail_input!(
            "{} was generated without Dapr Workflow (with_workflow = false in .daprgen/service.toml), and a saga \
             runs on it: its worker, placement and scheduler are part of the service skeleton, not something \
             `add` can bolt on. Generate the service with workflows (`daprgen new {} --define with_workflow=true`, \
             the default) and move your code over, or write this process without a saga",
            service.info.name,
            service.info.name
        );
    }
    check_name("the saga name", &args.name, "order_fulfilment")?;
    if args.name == "saga" || args.name.ends_with("_saga") {
        let trimmed = args.name.strip_suffix("_saga").unwrap_or("order_fulfilment");
        bail_input!(
            "the saga name {:?} ends in \"saga\", and daprgen adds `_saga` to the names it makes from it \
             ({}_saga.rs): name the process itself, e.g. {trimmed}",
            args.name,
            args.name
        );
    }
    if args.steps.is_empty() {
        bail_input!(
            "a saga needs at least one step: pass --step ACTION:COMPENSATION, e.g. --step reserve_stock:release_stock"
        );
    }
    if args.steps.len() > MAX_STEPS {
        bail_input!(
            "{} steps given; a saga may have at most {MAX_STEPS}: split the process into smaller sagas",
            args.steps.len()
        );
    }
    let mut steps: Vec<StepContext> = Vec::with_capacity(args.steps.len());
    for (index, step) in args.steps.iter().enumerate() {
        let step = parse_step(service, index + 1, step)?;
        check_distinct(&steps, &step)?;
        steps.push(step);
    }
    let operations: Vec<OperationContext> = steps
        .iter()
        .flat_map(|step| [step.action.clone(), step.compensation.clone()])
        .collect();
    let actions: Vec<&str> = steps.iter().map(|step| step.action.snake.as_str()).collect();
    let failure_case = |at: usize, own_compensation: bool| {
        let undone = if own_compensation { at + 1 } else { at };
        let mut run: Vec<String> = actions[..=at].iter().map(|action| (*action).to_owned()).collect();
        run.extend(steps[..undone].iter().rev().map(|step| step.compensation.snake.clone()));
        FailureCase {
            failing: actions[at].to_owned(),
            operations: run,
        }
    };
    Ok(SagaContext {
        saga: Spellings::of(&args.name),
        resource: service.info.resource.clone(),
        http: service.info.http(),
        first: steps[0].clone(),
        last: steps[steps.len() - 1].clone(),
        step_count: steps.len(),
        operation_count: operations.len(),
        refused_at: (0..steps.len()).map(|at| failure_case(at, false)).collect(),
        unavailable_at: (0..steps.len()).map(|at| failure_case(at, true)).collect(),
        operations,
        steps,
    })
}

/// A saga or operation name: a snake_case identifier, not too long.
fn check_name(what: &str, value: &str, example: &str) -> anyhow::Result<()> {
    names::check_identifier(what, value, example)?;
    if value.len() > MAX_NAME_LEN {
        bail_input!(
            "{what} {value:?} has {} characters; at most {MAX_NAME_LEN} fit in the workflow, activity and \
             configuration names made from it: choose a shorter one, e.g. {example}",
            value.len()
        );
    }
    Ok(())
}

/// `ACTION:COMPENSATION[@APP_ID]`, the `number`th step.
fn parse_step(service: &Service, number: usize, text: &str) -> anyhow::Result<StepContext> {
    const FORM: &str = "ACTION:COMPENSATION or ACTION:COMPENSATION@APP_ID, e.g. reserve_stock:release_stock@inventory";
    let (operations, app_id) = match text.split_once('@') {
        Some((operations, app_id)) => (operations, Some(app_id)),
        None => (text, None),
    };
    let Some((action, compensation)) = operations.split_once(':') else {
        bail_input!("--step {text:?} (step {number}) names no compensation: write it {FORM}");
    };
    if compensation.contains(':') {
        bail_input!("--step {text:?} (step {number}) has more than one ':': write it {FORM}");
    }
    let what = |role: &str| format!("the {role} of step {number} (--step {text:?})");
    check_name(&what("action"), action, "reserve_stock")?;
    check_name(&what("compensation"), compensation, "release_stock")?;
    if action == compensation {
        bail_input!(
            "--step {text:?} (step {number}) undoes {action:?} with itself: a compensation is another operation, \
             e.g. reserve_stock:release_stock"
        );
    }
    for operation in [action, compensation] {
        if RESERVED_OPERATIONS.contains(&operation) {
            bail_input!(
                "{operation:?} (step {number}, --step {text:?}) cannot name an operation: the mock of the steps port \
                 has a method of that name already; choose another, e.g. {operation}_order"
            );
        }
    }
    let app_id = match app_id {
        Some(app_id) => {
            check_app_id(app_id, number, text)?;
            app_id.to_owned()
        }
        None => service.info.name.clone(),
    };
    let operation = |snake: &str| OperationContext {
        snake: snake.to_owned(),
        app_id: app_id.clone(),
        method: snake.to_kebab_case(),
    };
    Ok(StepContext {
        number,
        variant: action.to_pascal_case(),
        action: operation(action),
        compensation: operation(compensation),
    })
}

/// A Dapr app id: what `dapr run --app-id` and Kubernetes accept (a DNS label).
fn check_app_id(app_id: &str, number: usize, text: &str) -> anyhow::Result<()> {
    let valid = !app_id.is_empty()
        && app_id.len() <= 63
        && app_id
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !app_id.starts_with('-')
        && !app_id.ends_with('-');
    if !valid {
        bail_input!(
            "the app id {app_id:?} of step {number} (--step {text:?}) is not a Dapr app id: 1 to 63 lowercase ASCII \
             letters, digits and '-', not at either end, e.g. @inventory"
        );
    }
    Ok(())
}

/// Refuses `step` when one of its names is taken by an earlier step: every operation is a method,
/// an activity and a configuration key, every action an enum variant.
fn check_distinct(earlier: &[StepContext], step: &StepContext) -> anyhow::Result<()> {
    for other in earlier {
        for mine in [&step.action.snake, &step.compensation.snake] {
            for theirs in [&other.action.snake, &other.compensation.snake] {
                if mine == theirs {
                    bail_input!(
                        "{mine:?} is named by step {} and step {} alike: every action and compensation of a saga \
                         needs a name of its own, e.g. {mine}_again",
                        other.number,
                        step.number
                    );
                }
            }
        }
        if step.variant == other.variant {
            bail_input!(
                "the actions {:?} (step {}) and {:?} (step {}) are both {:?} in PascalCase, the name of their step \
                 in Rust: rename one, e.g. {}_again",
                other.action.snake,
                other.number,
                step.action.snake,
                step.number,
                step.variant,
                step.action.snake
            );
        }
        if step.action.method == other.action.method || step.compensation.method == other.compensation.method {
            bail_input!(
                "steps {} and {} have operations that are the same in kebab-case, the method they are sent to: \
                 rename one, e.g. {}_again",
                other.number,
                step.number,
                step.action.snake
            );
        }
    }
    Ok(())
}

/// Refuses a saga whose names are taken by something else in the service. The same saga added
/// again passes: the engine then finds its files and lines already there (and refuses the same
/// name with other steps, whose files differ).
fn check_collisions(service: &Service, context: &SagaContext) -> anyhow::Result<()> {
    let snake = &context.saga.snake;
    let fields = [
        ("crates/data/src/sidecar.rs", format!("pub {snake}_saga:")),
        ("crates/data/src/dapr_workflow.rs", format!("pub {snake}_saga_steps:")),
        ("crates/service/src/router.rs", format!("pub {snake}_sagas:")),
    ];
    for (file, field) in fields {
        let path = service.path(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        };
        let declared = text.lines().any(|line| line.trim_start().starts_with(&field));
        if declared && !service.path(context.biz_path()).exists() {
            bail_input!(
                "{file} already declares `{}`, which the saga {snake:?} needs for itself: choose another saga name, \
                 e.g. {snake}_process",
                field.trim_start_matches("pub ").trim_end_matches(':')
            );
        }
    }
    if context.http {
        let openapi = service.path("openapi.json");
        if let Ok(text) = std::fs::read_to_string(&openapi)
            && let Ok(document) = serde_json::from_str::<Value>(&text)
        {
            let route = format!("/sagas/{}", context.saga.kebab);
            let taken = document["paths"]
                .as_object()
                .is_some_and(|paths| paths.contains_key(&route));
            if taken && !service.path(context.biz_path()).exists() {
                bail_input!(
                    "the route {route} is taken (openapi.json): choose another saga name, e.g. {snake}_process"
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::add::engine::{self, Change, Mode};
    use crate::add::service::MARKER;
    use crate::error::is_bad_input;

    const INFO: &str = "name = \"shop\"\nservice_snake = \"shop\"\nresource = \"item\"\ntransport = \"both\"\n\
                        state_store = \"redis\"\npubsub = \"redis\"\nwith_lock = true\nwith_workflow = true\n";

    fn args(name: &str, steps: &[&str]) -> SagaArgs {
        SagaArgs {
            name: name.to_owned(),
            steps: steps.iter().map(|step| (*step).to_owned()).collect(),
        }
    }

    fn sample_args() -> SagaArgs {
        args(
            "order_fulfilment",
            &[
                "reserve_stock:release_stock@inventory",
                "charge_payment:refund_payment@payment",
                "confirm_order:cancel_order",
            ],
        )
    }

    /// A service with only its marker (`info` as `.daprgen/service.toml`).
    fn service_with(info: &str) -> (tempfile::TempDir, Service) {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join(MARKER);
        std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
        std::fs::write(&marker, info).unwrap();
        let service = Service::open(dir.path()).unwrap();
        (dir, service)
    }

    fn sample_context() -> SagaContext {
        let (_dir, service) = service_with(INFO);
        context(&service, &sample_args()).unwrap()
    }

    #[test]
    fn templates_render() {
        let templates = Templates::builtin().unwrap();
        let context = sample_context();
        for name in [
            "biz/saga.rs",
            "biz/steps.rs",
            "data/invocation.rs",
            "data/workflow.rs",
            "service/saga.rs",
            "service/http.rs",
            "service/openapi.json",
            "api/http.rs",
            "wiring",
        ] {
            let rendered = templates.render(&format!("saga/{name}.hbs"), &context).unwrap();
            insta::assert_snapshot!(format!("saga_{}", name.replace(['/', '.'], "_")), rendered);
        }
    }

    #[test]
    fn a_one_step_saga_in_a_grpc_service_renders_without_routes() {
        let (_dir, service) = service_with(&INFO.replace("\"both\"", "\"grpc\""));
        let context = context(&service, &args("refund", &["credit_account:debit_account"])).unwrap();
        assert!(!context.http);
        let templates = Templates::builtin().unwrap();
        let wiring_text = templates.render("saga/wiring.hbs", &context).unwrap();
        assert!(!wiring_text.contains("http-routes"), "{wiring_text}");
        insta::assert_snapshot!(
            "saga_biz_steps_rs_one_step",
            templates.render("saga/biz/steps.rs.hbs", &context).unwrap()
        );
        insta::assert_snapshot!("saga_wiring_grpc", wiring_text);
    }

    #[test]
    fn the_context_lists_the_operations_of_every_failure() {
        let context = sample_context();
        let refused: Vec<(&str, Vec<&str>)> = context
            .refused_at
            .iter()
            .map(|case| {
                (
                    case.failing.as_str(),
                    case.operations.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            refused,
            [
                ("reserve_stock", vec!["reserve_stock"]),
                (
                    "charge_payment",
                    vec!["reserve_stock", "charge_payment", "release_stock"]
                ),
                (
                    "confirm_order",
                    vec![
                        "reserve_stock",
                        "charge_payment",
                        "confirm_order",
                        "refund_payment",
                        "release_stock"
                    ]
                ),
            ]
        );
        assert_eq!(context.unavailable_at[0].operations, ["reserve_stock", "release_stock"]);
        assert_eq!(
            context.unavailable_at[2].operations,
            [
                "reserve_stock",
                "charge_payment",
                "confirm_order",
                "cancel_order",
                "refund_payment",
                "release_stock"
            ]
        );
        let targets: Vec<(&str, &str, &str)> = context
            .operations
            .iter()
            .map(|operation| {
                (
                    operation.snake.as_str(),
                    operation.app_id.as_str(),
                    operation.method.as_str(),
                )
            })
            .collect();
        assert_eq!(targets[0], ("reserve_stock", "inventory", "reserve-stock"));
        assert_eq!(targets[3], ("refund_payment", "payment", "refund-payment"));
        assert_eq!(
            targets[4],
            ("confirm_order", "shop", "confirm-order"),
            "no @APP_ID: this service"
        );
    }

    #[test]
    fn bad_input_is_refused_naming_the_value_and_the_fix() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("", &["a:b"], "the saga name is empty"),
            ("fn", &["a:b"], "keyword"),
            ("9lives", &["a:b"], "does not start with a letter"),
            ("commande_été", &["a:b"], "contains 'é'"),
            ("OrderFulfilment", &["a:b"], "e.g. order_fulfilment"),
            ("../etc", &["a:b"], "is a path"),
            ("order__fulfilment", &["a:b"], "doubled"),
            ("order_fulfilment_saga", &["a:b"], "e.g. order_fulfilment"),
            ("saga", &["a:b"], "ends in \"saga\""),
            (&"x".repeat(MAX_NAME_LEN + 1), &["a:b"], "choose a shorter one"),
            ("orders", &[], "at least one step"),
            ("orders", &["reserve_stock"], "names no compensation"),
            ("orders", &["reserve_stock:"], "the compensation of step 1"),
            (":release_stock", &[":release_stock"], "the saga name"),
            (
                "orders",
                &[":release_stock"],
                "the action of step 1 (--step \":release_stock\") is empty",
            ),
            ("orders", &["a:b:c"], "more than one ':'"),
            (
                "orders",
                &["reserve_stock:reserve_stock"],
                "undoes \"reserve_stock\" with itself",
            ),
            (
                "orders",
                &["reserve_stock:release_stock", "reserve_stock:undo"],
                "step 1 and step 2 alike",
            ),
            (
                "orders",
                &["reserve_stock:release_stock", "charge:release_stock"],
                "step 1 and step 2 alike",
            ),
            (
                "orders",
                &["reserve_stock:release_stock", "release_stock:x"],
                "step 1 and step 2 alike",
            ),
            (
                "orders",
                &["step_1:undo_1", "step1:undo1"],
                "both \"Step1\" in PascalCase",
            ),
            ("orders", &["type:untype"], "is a Rust keyword"),
            ("orders", &["Reserve:release"], "e.g. reserve"),
            ("orders", &["réserver:libérer"], "contains 'é'"),
            ("orders", &["9reserve:release"], "does not start with a letter"),
            ("orders", &["new:old"], "the mock of the steps port"),
            ("orders", &["reserve:release@"], "is not a Dapr app id"),
            ("orders", &["reserve:release@Inventory"], "is not a Dapr app id"),
            ("orders", &["reserve:release@inv/entory"], "is not a Dapr app id"),
            ("orders", &["reserve:release@-inventory"], "is not a Dapr app id"),
            ("orders", &["reserve:release@inventory@x"], "is not a Dapr app id"),
            ("orders", &["re serve:release"], "contains ' '"),
        ];
        let (_dir, service) = service_with(INFO);
        for (name, steps, expected) in cases {
            let error = context(&service, &args(name, steps)).unwrap_err();
            assert!(is_bad_input(&error), "{name:?} {steps:?}: {error:#}");
            let message = format!("{error:#}");
            assert!(message.contains(expected), "{name:?} {steps:?}: {message}");
            assert!(
                message.contains("e.g.") || message.contains("--define"),
                "{name:?} {steps:?} gives no fix: {message}"
            );
        }
        let too_many: Vec<String> = (0..=MAX_STEPS).map(|n| format!("do_{n}:undo_{n}")).collect();
        let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
        let error = context(&service, &args("orders", &too_many)).unwrap_err();
        assert!(
            is_bad_input(&error) && error.to_string().contains("at most 20"),
            "{error}"
        );
    }

    #[test]
    fn a_service_without_workflows_is_refused_with_the_fix() {
        let (_dir, service) = service_with(&INFO.replace("with_workflow = true", "with_workflow = false"));
        let error = context(&service, &sample_args()).unwrap_err();
        assert!(is_bad_input(&error));
        let message = error.to_string();
        assert!(
            message.contains("with_workflow = false") && message.contains("--define with_workflow=true"),
            "{message}"
        );
    }

    #[test]
    fn a_name_taken_by_something_else_is_refused() {
        let (dir, service) = service_with(INFO);
        std::fs::create_dir_all(dir.path().join("crates/service/src")).unwrap();
        std::fs::write(
            dir.path().join("crates/service/src/router.rs"),
            "pub struct HttpState {\n    pub order_fulfilment_sagas: Arc<dyn Other>,\n}\n",
        )
        .unwrap();
        let templates = Templates::builtin().unwrap();
        let error = plan(&service, &templates, &sample_args()).unwrap_err();
        assert!(is_bad_input(&error), "{error:#}");
        assert!(error.to_string().contains("order_fulfilment_sagas"), "{error:#}");
    }

    #[test]
    fn the_plan_creates_the_saga_and_wires_it_at_the_anchors() {
        let (_dir, service) = service_with(INFO);
        let templates = Templates::builtin().unwrap();
        let plan = plan(&service, &templates, &sample_args()).unwrap();
        let created: Vec<String> = plan
            .changes
            .iter()
            .filter_map(|change| match change {
                Change::Create { path, .. } => Some(path.display().to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(
            created,
            [
                "crates/biz/src/saga.rs",
                "crates/data/src/dapr_invocation.rs",
                "crates/biz/src/order_fulfilment_saga.rs",
                "crates/data/src/dapr_order_fulfilment_saga.rs",
                "crates/service/src/http/saga.rs",
                "crates/service/src/http/order_fulfilment_saga.rs",
            ]
        );
        let anchors: Vec<String> = plan
            .changes
            .iter()
            .filter_map(|change| match change {
                Change::Insert { path, anchor, .. } => Some(format!("{} {anchor}", path.display())),
                _ => None,
            })
            .collect();
        for expected in [
            "crates/data/src/dapr_workflow.rs workflow-registrations",
            "crates/app/src/startup.rs workflow-activities-resolve",
            "crates/data/src/sidecar.rs dapr-settings-fields",
            "config/default.toml dapr-keys",
            "crates/app/src/module.rs module-parameters",
            "crates/service/src/http/mod.rs http-routes",
            "crates/api/src/http.rs http-bodies",
        ] {
            assert!(
                anchors.iter().any(|anchor| anchor == expected),
                "{expected} missing from {anchors:#?}"
            );
        }
        // Nothing exists at the anchors in this bare service: applying refuses, naming the file.
        let error = engine::apply(&service, &plan, Mode::DryRun).unwrap_err();
        assert!(format!("{error:#}").contains("daprgen:anchor"), "{error:#}");
    }
}
