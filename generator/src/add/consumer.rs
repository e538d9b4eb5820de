//! `daprgen add consumer TOPIC`: a consumer of a pub/sub topic in every layer it touches.
//!
//! - biz: `<name>_consumer.rs` with the payload type, the port (`<Name>Consumer`, mocked with
//!   mockall) and its handler, which records each event id through the template's idempotency
//!   store before the event takes effect (a redelivery has no second effect) and answers SUCCESS,
//!   RETRY or DROP by the kind of failure;
//! - service: `subscription/<name>.rs` with the route the sidecar delivers to and its entry in the
//!   programmatic subscription list (`GET /dapr/subscribe`), dead-letter topic included, reusing
//!   the CloudEvent reading of `subscription.rs`;
//! - wiring: the shaku component, the `HttpState` field and its resolution, the test mocks;
//! - an integration test (`tests/integration/tests/suite/<name>_consumer.rs`): next to a real
//!   sidecar, an event is recorded under its id, its redelivery acknowledged, a misfit
//!   dead-lettered.
//!
//! The new files are rendered from `consumer/biz.rs.hbs`, `consumer/subscription.rs.hbs` and
//! `consumer/integration.rs.hbs`, the insertions from `consumer/wiring.hbs`.

use std::path::PathBuf;

use anyhow::Context;
use heck::{ToPascalCase, ToSnakeCase};
use serde::Serialize;

use super::component;
use super::engine::Plan;
use super::names::{self, Spellings};
use super::service::Service;
use super::templates::Templates;
use crate::bail_input;

/// Longest topic accepted: its events are recorded under `event/<topic>/<event id>`, and an
/// idempotency key holds at most 255 characters, so this leaves event ids 120 of them.
pub const MAX_TOPIC_LEN: usize = 128;
/// What a dead-letter topic is called unless `--dead-letter` says otherwise (the template's
/// adjustment consumer uses the same suffix).
pub const DEAD_LETTER_SUFFIX: &str = "-dead";

/// `daprgen add consumer TOPIC [--pubsub NAME] [--dead-letter TOPIC] [--name NAME]`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsumerArgs {
    /// The topic to consume: ASCII letters, digits, '.', '_' and '-' (names every broker accepts).
    pub topic: String,
    /// The pub/sub component to subscribe through, one of components/ (default: the one the
    /// configuration names, `dapr.pubsub`).
    #[arg(long, value_name = "NAME")]
    pub pubsub: Option<String>,
    /// Where events answered DROP go (default: TOPIC-dead).
    #[arg(long, value_name = "TOPIC")]
    pub dead_letter: Option<String>,
    /// The consumer's Rust name, snake_case (default: the topic in snake_case).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// What the consumer templates are rendered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumerContext {
    /// The topic, e.g. `payment-settled`.
    pub topic: String,
    /// Its dead-letter topic, e.g. `payment-settled-dead`.
    pub dead_letter_topic: String,
    /// The app route the sidecar delivers to, e.g. `/events/payment-settled`.
    pub route: String,
    /// The pub/sub component, when `--pubsub` named one; otherwise the configured one is used.
    pub pubsub: Option<String>,
    /// The consumer's Rust name, e.g. `payment_settled`.
    pub snake: String,
    /// The same in PascalCase, e.g. `PaymentSettled`.
    pub pascal: String,
    /// The service's first resource (snake_case): its adjustment module holds `Disposition`.
    pub resource: String,
}

impl ConsumerContext {
    /// Where the biz part goes.
    pub fn biz_path(&self) -> PathBuf {
        PathBuf::from(format!("crates/biz/src/{}_consumer.rs", self.snake))
    }

    /// Where its integration test goes.
    pub fn integration_path(&self) -> PathBuf {
        PathBuf::from(format!("tests/integration/tests/suite/{}_consumer.rs", self.snake))
    }

    /// Where the service part goes.
    pub fn service_path(&self) -> PathBuf {
        PathBuf::from(format!("crates/service/src/subscription/{}.rs", self.snake))
    }
}

/// The plan of `daprgen add consumer`: every input is checked first, so bad input writes nothing.
pub fn plan(service: &Service, templates: &Templates, args: &ConsumerArgs) -> anyhow::Result<Plan> {
    let context = context(service, args)?;
    check_collisions(service, &context)?;
    let mut plan = Plan::new(format!("add consumer {}", context.topic));
    let biz = templates.render("consumer/biz.rs.hbs", &context)?;
    plan.create(context.biz_path(), biz);
    let subscription = templates.render("consumer/subscription.rs.hbs", &context)?;
    plan.create(context.service_path(), subscription);
    let integration = templates.render("consumer/integration.rs.hbs", &context)?;
    plan.create(context.integration_path(), integration);
    let name = "consumer/wiring.hbs";
    for (path, anchor, text) in wiring(name, &templates.render(name, &context)?)? {
        plan.insert(path, &anchor, text);
    }
    Ok(plan)
}

/// Checks the arguments and derives every name from them.
pub fn context(service: &Service, args: &ConsumerArgs) -> anyhow::Result<ConsumerContext> {
    check_topic("the topic", &args.topic, "payment-settled")?;
    if args.topic.len() > MAX_TOPIC_LEN {
        bail_input!(
            "the topic {:?} has {} characters; a consumer's topic may have at most {MAX_TOPIC_LEN} (each event is \
             recorded under event/<topic>/<event id>, at most 255 characters): consume a shorter topic",
            args.topic,
            args.topic.len()
        );
    }
    let dead_letter_topic = match &args.dead_letter {
        Some(dead_letter) => {
            check_topic(
                "the dead-letter topic (--dead-letter)",
                dead_letter,
                &format!("{}-dead", args.topic),
            )?;
            dead_letter.clone()
        }
        None => format!("{}{DEAD_LETTER_SUFFIX}", args.topic),
    };
    if dead_letter_topic == args.topic {
        bail_input!(
            "--dead-letter {dead_letter_topic:?} is the topic itself: dropped events would be delivered again; \
             name another topic, e.g. --dead-letter {}{DEAD_LETTER_SUFFIX}",
            args.topic
        );
    }
    let snake = match &args.name {
        Some(name) => {
            names::check_identifier("the consumer name (--name)", name, "payment_settled")?;
            name.clone()
        }
        None => {
            let derived = args.topic.to_snake_case();
            names::check_identifier(
                &format!("the consumer name derived from the topic {:?},", args.topic),
                &derived,
                "--name payment_events",
            )
            .map_err(|error| {
                crate::error::bad_input(format!("{error}; name the consumer yourself with --name NAME"))
            })?;
            derived
        }
    };
    // `subscription.rs` has an inline test module of that name.
    if snake == "tests" {
        bail_input!(
            "the consumer name \"tests\" is taken by the tests of subscription.rs: pass --name, e.g. --name test_events"
        );
    }
    if let Some(pubsub) = &args.pubsub {
        check_pubsub(service, pubsub)?;
    }
    Ok(ConsumerContext {
        route: format!("/events/{}", args.topic),
        topic: args.topic.clone(),
        dead_letter_topic,
        pubsub: args.pubsub.clone(),
        pascal: snake.to_pascal_case(),
        snake,
        resource: service.info.resource.clone(),
    })
}

/// Refuses a topic name that some broker would not take: 1 to 249 ASCII letters, digits, `.`,
/// `_` and `-` (Kafka's rule, the strictest of Dapr's brokers), not `.` or `..`.
pub fn check_topic(what: &str, value: &str, example: &str) -> anyhow::Result<()> {
    const RULE: &str = "a topic name is 1 to 249 ASCII letters, digits, '.', '_' and '-'";
    if value.is_empty() {
        bail_input!("{what} is empty: {RULE}, e.g. {example}");
    }
    if value.contains(['/', '\\']) || value == "." || value == ".." {
        bail_input!("{what} {value:?} is a path, not a topic: {RULE}, e.g. {example}");
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        bail_input!("{what} {value:?} contains {bad:?}: {RULE}, e.g. {example}");
    }
    if value.len() > 249 {
        bail_input!(
            "{what} {value:?} has {} characters: {RULE}, e.g. {example}",
            value.len()
        );
    }
    Ok(())
}

/// Refuses `--pubsub NAME` unless `components/` holds a pub/sub component of that name.
fn check_pubsub(service: &Service, name: &str) -> anyhow::Result<()> {
    let found = component::service_components(service)?;
    let pubsubs: Vec<&str> = found
        .iter()
        .filter(|found| found.header.component_type.starts_with("pubsub."))
        .map(|found| found.header.name.as_str())
        .collect();
    if pubsubs.contains(&name) {
        return Ok(());
    }
    let present = if pubsubs.is_empty() {
        "it has none".to_owned()
    } else {
        format!("it has {}", pubsubs.join(", "))
    };
    bail_input!(
        "--pubsub {name:?}: components/ holds no pub/sub component of that name ({present}); leave --pubsub out to \
         use the configured one, or add one first, e.g. `daprgen add component pubsub.redis --name {name}`"
    )
}

/// A consumer already in the service: its name and the topic of its `TOPIC` constant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingConsumer {
    /// Its Rust name.
    pub snake: String,
    /// Its topic.
    pub topic: String,
}

/// The consumers `daprgen add consumer` put into the service.
pub fn existing_consumers(service: &Service) -> anyhow::Result<Vec<ExistingConsumer>> {
    let mut consumers = Vec::new();
    for (path, text) in service.read_files("crates/service/src/subscription", &["rs"])? {
        let snake = path.file_stem().and_then(|stem| stem.to_str());
        if let (Some(snake), Some(topic)) = (snake, topic_constant(&text)) {
            consumers.push(ExistingConsumer {
                snake: snake.to_owned(),
                topic,
            });
        }
    }
    Ok(consumers)
}

/// The value of `pub const TOPIC: &str = "…";` in a consumer's service file.
fn topic_constant(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        line.trim()
            .strip_prefix("pub const TOPIC: &str = \"")
            .and_then(|rest| rest.strip_suffix("\";"))
            .map(str::to_owned)
    })
}

/// Refuses a consumer whose topic or names are taken by something else in the service. The same
/// consumer added again passes: the engine then finds its files and lines already there.
fn check_collisions(service: &Service, context: &ConsumerContext) -> anyhow::Result<()> {
    let adjustments = format!("{}-adjustments", Spellings::of(&service.info.resource).plural_kebab);
    if context.topic == adjustments {
        bail_input!(
            "the topic {:?} is consumed by the template's adjustment consumer (crates/service/src/subscription.rs): \
             a sidecar delivers a topic to one route; consume another topic",
            context.topic
        );
    }
    let existing = existing_consumers(service)?;
    if let Some(other) = existing
        .iter()
        .find(|other| other.topic == context.topic && other.snake != context.snake)
    {
        bail_input!(
            "the topic {:?} is already consumed by `{}` (crates/service/src/subscription/{}.rs): a sidecar delivers a \
             topic to one route; extend that consumer instead",
            context.topic,
            other.snake,
            other.snake
        );
    }
    if let Some(other) = existing.iter().find(|other| other.snake == context.snake) {
        if other.topic != context.topic {
            bail_input!(
                "the consumer name `{}` is taken by the consumer of the topic {:?}: pass another with --name, e.g. \
                 --name {}_events",
                context.snake,
                other.topic,
                context.snake
            );
        }
        // The same consumer again: its files are compared by the engine.
        return Ok(());
    }
    for path in [context.biz_path(), context.service_path()] {
        if service.path(&path).exists() {
            bail_input!(
                "{} already exists and is not the consumer of {:?}: pass another name with --name, e.g. --name {}_events",
                path.display(),
                context.topic,
                context.snake
            );
        }
    }
    for file in ["crates/service/src/router.rs", "crates/service/src/test_support.rs"] {
        let text = std::fs::read_to_string(service.path(file)).with_context(|| format!("reading {file}"))?;
        let field = format!("pub {}:", context.snake);
        if text.lines().any(|line| line.trim_start().starts_with(&field)) {
            bail_input!(
                "{file} already has a field `{}`: pass another name with --name, e.g. --name {}_events",
                context.snake,
                context.snake
            );
        }
    }
    Ok(())
}

/// The insertions of a rendered wiring template (`consumer/wiring.hbs`, `component/wiring.hbs`):
/// blocks headed by `@@ PATH ANCHOR` lines, each to go right before that anchor of that file.
pub fn wiring(template: &str, rendered: &str) -> anyhow::Result<Vec<(PathBuf, String, String)>> {
    let mut blocks: Vec<(PathBuf, String, String)> = Vec::new();
    for line in rendered.split_inclusive('\n') {
        if let Some(header) = line.strip_prefix("@@ ") {
            let mut words = header.split_whitespace();
            let (Some(path), Some(anchor), None) = (words.next(), words.next(), words.next()) else {
                anyhow::bail!("{template}: {line:?} is not `@@ PATH ANCHOR`");
            };
            blocks.push((PathBuf::from(path), anchor.to_owned(), String::new()));
        } else if let Some((_, _, text)) = blocks.last_mut() {
            text.push_str(line);
        } else if !line.trim().is_empty() {
            anyhow::bail!("{template}: {line:?} comes before the first `@@ PATH ANCHOR` line");
        }
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::add::engine::Change;
    use crate::add::service::MARKER;
    use crate::error::is_bad_input;

    fn sample(pubsub: Option<&str>) -> ConsumerContext {
        ConsumerContext {
            topic: "payment-settled".into(),
            dead_letter_topic: "payment-settled-dead".into(),
            route: "/events/payment-settled".into(),
            pubsub: pubsub.map(str::to_owned),
            snake: "payment_settled".into(),
            pascal: "PaymentSettled".into(),
            resource: "order".into(),
        }
    }

    #[test]
    fn templates_render() {
        let templates = Templates::builtin().unwrap();
        for (suffix, pubsub) in [("", None), ("_with_pubsub", Some("events"))] {
            let context = sample(pubsub);
            for name in ["biz.rs", "subscription.rs", "integration.rs", "wiring"] {
                let rendered = templates.render(&format!("consumer/{name}.hbs"), &context).unwrap();
                insta::assert_snapshot!(format!("consumer_{name}{suffix}"), rendered);
            }
        }
    }

    /// A service with the files `add consumer` reads, none of the ones it writes.
    fn service() -> (tempfile::TempDir, Service) {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            MARKER,
            "name = \"shop\"\nservice_snake = \"shop\"\nresource = \"order\"\ntransport = \"both\"\n\
             state_store = \"redis\"\npubsub = \"redis\"\nwith_lock = true\nwith_workflow = true\n",
        );
        write(
            "crates/service/src/router.rs",
            "pub struct HttpState {\n    pub orders: Arc<dyn OrderUsecase>,\n    pub adjustments: Arc<dyn X>,\n}\n",
        );
        write(
            "crates/service/src/test_support.rs",
            "pub struct Mocks {\n    pub orders: MockOrderUsecase,\n}\n",
        );
        write(
            "crates/service/src/subscription/order_created.rs",
            "/// The topic.\npub const TOPIC: &str = \"order.created\";\n",
        );
        write("crates/biz/src/stock_low_consumer.rs", "// hand-written\n");
        write("crates/service/src/subscription/retry.rs", "// hand-written\n");
        write(
            "components/pubsub.yaml",
            include_str!("../../../components/pubsub/redis.yaml"),
        );
        write(
            "components/statestore.yaml",
            include_str!("../../../components/state/redis.yaml"),
        );
        let service = Service::open(dir.path()).unwrap();
        (dir, service)
    }

    fn args(topic: &str, flags: &[(&str, &str)]) -> ConsumerArgs {
        let flag = |name: &str| {
            flags
                .iter()
                .find(|(flag, _)| *flag == name)
                .map(|(_, value)| value.to_string())
        };
        ConsumerArgs {
            topic: topic.into(),
            pubsub: flag("pubsub"),
            dead_letter: flag("dead-letter"),
            name: flag("name"),
        }
    }

    #[test]
    fn bad_input_is_refused_naming_the_value_and_the_fix() {
        let (_dir, service) = service();
        let long_topic = "t".repeat(MAX_TOPIC_LEN + 1);
        let cases: Vec<(ConsumerArgs, &str, &str)> = vec![
            (args("", &[]), "is empty", "e.g. payment-settled"),
            (
                args("bad topic!", &[]),
                "\"bad topic!\" contains ' '",
                "e.g. payment-settled",
            ),
            (args("../orders", &[]), "is a path", "e.g."),
            (args("paiement-réglé", &[]), "contains 'é'", "e.g."),
            (args(&long_topic, &[]), "at most 128", "consume a shorter topic"),
            (
                args("2fa-events", &[]),
                "\"2fa_events\" does not start with a letter",
                "--name",
            ),
            (args("type", &[]), "\"type\" is a Rust keyword", "--name"),
            (args("x", &[("name", "Payment")]), "--name) \"Payment\"", "e.g. payment"),
            (args("tests", &[]), "\"tests\" is taken", "--name test_events"),
            (
                args("x", &[("dead-letter", "x")]),
                "is the topic itself",
                "--dead-letter x-dead",
            ),
            (args("x", &[("dead-letter", "x dead")]), "contains ' '", "e.g. x-dead"),
            (
                args("x", &[("pubsub", "events")]),
                "--pubsub \"events\"",
                "daprgen add component pubsub.redis --name events",
            ),
            (
                args("x", &[("pubsub", "statestore")]),
                "it has pubsub",
                "leave --pubsub out",
            ),
            (
                args("orders-adjustments", &[]),
                "template's adjustment consumer",
                "consume another topic",
            ),
            (
                args("order.created", &[("name", "order_events")]),
                "already consumed by `order_created`",
                "extend",
            ),
            (
                args("order-created", &[]),
                "taken by the consumer of the topic \"order.created\"",
                "--name order_created_events",
            ),
            (
                args("stock-low", &[]),
                "stock_low_consumer.rs already exists",
                "--name stock_low_events",
            ),
            (
                args("retry", &[]),
                "subscription/retry.rs already exists",
                "--name retry_events",
            ),
            (
                args("orders", &[]),
                "already has a field `orders`",
                "--name orders_events",
            ),
            (
                args("adjustments", &[]),
                "already has a field `adjustments`",
                "--name adjustments_events",
            ),
        ];
        let templates = Templates::builtin().unwrap();
        for (args, expected, fix) in cases {
            let error = plan(&service, &templates, &args).unwrap_err();
            assert!(is_bad_input(&error), "{args:?}: {error:#}");
            let message = error.to_string();
            assert!(message.contains(expected), "{args:?}: {message}");
            assert!(message.contains(fix), "{args:?} gives no fix: {message}");
        }
    }

    #[test]
    fn a_consumer_plans_two_files_and_its_wiring() {
        let (_dir, service) = service();
        let templates = Templates::builtin().unwrap();
        let plan = plan(&service, &templates, &args("payment-settled", &[])).unwrap();
        assert_eq!(plan.summary, "add consumer payment-settled");
        let created = plan.created();
        assert_eq!(
            created,
            [
                "crates/biz/src/payment_settled_consumer.rs",
                "crates/service/src/subscription/payment_settled.rs",
                "tests/integration/tests/suite/payment_settled_consumer.rs",
            ]
        );
        let anchors: Vec<&str> = plan
            .changes
            .iter()
            .filter_map(|change| match change {
                Change::Insert { anchor, .. } => Some(anchor.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            anchors,
            [
                "biz-modules",
                "subscription-modules",
                "subscription-routes",
                "subscriptions",
                "http-state-imports",
                "http-state-fields",
                "http-state-resolve",
                "module-imports",
                "module-components",
                "test-mock-imports",
                "test-mock-fields",
                "test-mock-new",
                "test-mock-state",
                "suite-modules",
            ]
        );
        // The same consumer again is planned the same way; the engine then finds it all there.
        assert_eq!(
            super::plan(&service, &templates, &args("payment-settled", &[])).unwrap(),
            plan
        );
    }

    #[test]
    fn topics_are_checked_against_every_brokers_rules() {
        let cases = [
            ("", "is empty"),
            ("a/b", "is a path"),
            ("..", "is a path"),
            (".", "is a path"),
            ("bad topic!", "contains ' '"),
            ("crème", "contains 'è'"),
            ("orders#1", "contains '#'"),
        ];
        for (value, expected) in cases {
            let error = check_topic("the topic", value, "payment-settled").unwrap_err();
            assert!(is_bad_input(&error), "{value:?}");
            let message = error.to_string();
            assert!(message.contains(expected), "{value:?}: {message}");
            assert!(
                message.contains("e.g. payment-settled"),
                "{value:?} gives no fix: {message}"
            );
        }
        let long = "t".repeat(250);
        assert!(
            check_topic("the topic", &long, "t")
                .unwrap_err()
                .to_string()
                .contains("250 characters")
        );
        for good in [
            "orders",
            "orders.created",
            "Orders_Created-v2",
            "2fa-events",
            &"t".repeat(249),
        ] {
            check_topic("the topic", good, "t").unwrap();
        }
    }

    #[test]
    fn the_topic_constant_is_read_back() {
        let text = "//! x\n\n/// The topic.\npub const TOPIC: &str = \"orders.created\";\n";
        assert_eq!(topic_constant(text).as_deref(), Some("orders.created"));
        assert_eq!(topic_constant("pub const ROUTE: &str = \"/x\";\n"), None);
    }

    #[test]
    fn wiring_blocks_are_split_at_their_headers() {
        let rendered = "@@ a/b.rs one\nline 1\nline 2\n@@ c.rs two\n    line 3\n";
        assert_eq!(
            wiring("t.hbs", rendered).unwrap(),
            [
                (PathBuf::from("a/b.rs"), "one".to_owned(), "line 1\nline 2\n".to_owned()),
                (PathBuf::from("c.rs"), "two".to_owned(), "    line 3\n".to_owned()),
            ]
        );
        assert!(wiring("t.hbs", "stray\n@@ a.rs one\n").is_err());
        assert!(wiring("t.hbs", "@@ a.rs\n").is_err());
    }
}
