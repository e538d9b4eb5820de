//! `daprgen add entity NAME --field NAME:TYPE...`: a new resource through every layer of a
//! service, shaped like the service's first resource: proto messages and RPCs, HTTP bodies and
//! routes (with their OpenAPI entries), gRPC methods, the biz entity, port, use case and errors,
//! a Dapr state adapter with ETags, the shaku wiring, mockall unit tests of every use case
//! branch, handler tests over a mocked use case, and an integration test against a real sidecar.
//!
//! Everything is checked before anything is rendered: the names (syntax, keywords, length, and
//! collisions with what the service already has, after case conversion), the fields and their
//! types. Adding the same entity again with the same fields changes nothing; with other fields
//! it is refused.

mod fields;
mod imports;
mod openapi;

use std::path::Path;

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;

use self::fields::{Field, Scalar, Shape};
use self::imports::Use;
use super::engine::Plan;
use super::names::{self, KEYWORDS, Spellings};
use super::service::Service;
use super::templates::Templates;
use crate::bail_input;

pub use self::fields::MAX_FIELD_CHARS;

/// Longest entity name: the generated lines that spell it twice (e.g. the shaku wiring
/// `builder.with_component_parameters::<DaprNameRepo>(parameters)`) must fit rustfmt's 100 columns.
pub const MAX_ENTITY_CHARS: usize = 40;

/// Adds an entity (a resource with its own CRUD API) to the service.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Field types: string, bool, i32, i64, u32, u64, f64 (or float), decimal, uuid, timestamp,
and option<T> or list<T> of any of them, e.g.
    daprgen add entity customer --field name:string --field email:option<string> \\
        --field credit:decimal --field tags:list<string> --field born:option<timestamp>
(quote the ones with <>: --field 'tags:list<string>').
In JSON, decimals, UUIDs and timestamps (RFC 3339) are strings; in protobuf, decimals and UUIDs
are strings and timestamps google.protobuf.Timestamp.
Running the same command again changes nothing; the same entity with other fields is refused.")]
pub struct EntityArgs {
    /// The entity, singular snake_case (e.g. customer, order_line), at most 24 characters.
    pub name: String,
    /// A field, NAME:TYPE (repeat for each field), e.g. --field price:decimal.
    #[arg(long = "field", short = 'f', value_name = "NAME:TYPE", required = true)]
    pub fields: Vec<String>,
}

/// Plans `add entity` for `service`: validates every input first, so bad input writes nothing.
pub fn plan(service: &Service, templates: &Templates, args: &EntityArgs) -> anyhow::Result<Plan> {
    let entity = check_name(&args.name)?;
    let fields = fields::parse_fields(&args.fields)?;
    let command = command_line(&entity.snake, &fields);
    let mut plan = Plan::new(format!("add entity {}", entity.snake));
    if let Existing::Added(previous) = existing(service, &entity)? {
        if previous == command {
            // Added before with these fields: the service has it, whatever was edited since.
            return Ok(plan);
        }
        bail_input!(
            "the entity {} already exists, added by `{previous}`; an existing entity's fields change in its code \
             (crates/biz/src/{}.rs and the layers using it), not by adding it again. Run that command to see it \
             changes nothing, or choose another name",
            entity.snake,
            entity.snake
        );
    }
    check_collisions(service, &entity)?;
    let context = Context::new(service, &entity, &fields, command);
    add_files(service, templates, &context, &fields, &mut plan)?;
    Ok(plan)
}

/// Checks the entity's name and spells it.
fn check_name(name: &str) -> anyhow::Result<Spellings> {
    names::check_identifier("the entity name", name, "customer")?;
    if name.chars().count() > MAX_ENTITY_CHARS {
        bail_input!(
            "the entity name {name:?} is longer than {MAX_ENTITY_CHARS} characters, too long for the generated \
             type names (Dapr…RepoParameters) to fit a line; choose a shorter name"
        );
    }
    let spellings = Spellings::of(name);
    if KEYWORDS.contains(&spellings.plural.as_str()) {
        bail_input!(
            "the entity name {name:?} has the plural {:?}, a Rust keyword (the plural names a field); choose a \
             longer name, e.g. {name}_item",
            spellings.plural
        );
    }
    if let Some(reason) = reserved(name) {
        bail_input!("the entity name {name:?} {reason}; choose another name, e.g. {name}_record");
    }
    Ok(spellings)
}

/// Why `name` cannot name an entity in any service, if it cannot.
fn reserved(name: &str) -> Option<&'static str> {
    // Modules `add entity` itself creates beside the entities' own.
    if ["value", "convert"].contains(&name) {
        return Some("is the name of a module daprgen adds beside the entities (biz::value, grpc::convert)");
    }
    // Crates the service is built with: `pub mod <name>` in biz would make `use <name>::…` ambiguous.
    const CRATES: &[&str] = &[
        "api",
        "biz",
        "data",
        "service",
        "app",
        "std",
        "core",
        "alloc",
        "anyhow",
        "async_trait",
        "axum",
        "chrono",
        "config",
        "dapr",
        "futures",
        "mockall",
        "prost",
        "prost_types",
        "rand",
        "reqwest",
        "rust_decimal",
        "serde",
        "serde_json",
        "sha2",
        "shaku",
        "thiserror",
        "tokio",
        "tonic",
        "tower",
        "tracing",
        "utoipa",
        "uuid",
        "support",
        "integration_tests",
    ];
    if CRATES.contains(&name) {
        return Some("is the name of a crate the service is built with, which a module of that name would shadow");
    }
    // Names the generated code gives its own items, in the modules where the entity's name appears.
    if [
        "input",
        "page",
        "error",
        "idempotency",
        "health",
        "problem",
        "router",
        "subscription",
    ]
    .contains(&name)
    {
        return Some("is the name of a module or function of the service's own layers");
    }
    None
}

/// The command that adds `entity` with `fields`, spelt the one canonical way: recorded in the
/// entity's biz module, so that a second run can tell "the same" from "other fields".
fn command_line(entity: &str, fields: &[Field]) -> String {
    let fields: Vec<String> = fields.iter().map(|field| format!("--field {field}")).collect();
    format!("daprgen add entity {entity} {}", fields.join(" "))
}

/// What the service already has under the entity's name.
enum Existing {
    /// Nothing.
    None,
    /// An entity added by `daprgen add entity`: the command recorded in its biz module.
    Added(String),
}

/// The line of the generated biz module that records the command.
const RECORD_PREFIX: &str = "//! Generated by `";

fn existing(service: &Service, entity: &Spellings) -> anyhow::Result<Existing> {
    let path = service.path(format!("crates/biz/src/{}.rs", entity.snake));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::None),
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    };
    let recorded = text.lines().find_map(|line| {
        let command = line.strip_prefix(RECORD_PREFIX)?.split_once('`')?.0;
        command.starts_with("daprgen add entity ").then(|| command.to_owned())
    });
    match recorded {
        Some(command) => Ok(Existing::Added(command)),
        None if entity.snake == service.info.resource => bail_input!(
            "the entity name {:?} is the service's first resource, which it already has; choose another name",
            entity.snake
        ),
        None => bail_input!(
            "the entity name {:?} is taken: crates/biz/src/{}.rs exists and was not made by `daprgen add entity`; \
             choose another name",
            entity.snake,
            entity.snake
        ),
    }
}

/// Refuses a name that collides with what the service has: files, types, routes, fields, proto
/// messages, including names equal only after case conversion (`order_item2` and `order_item_2`
/// are both `OrderItem2`).
fn check_collisions(service: &Service, entity: &Spellings) -> anyhow::Result<()> {
    let info = &service.info;
    let fix = format!("choose another name, e.g. {}_record", entity.snake);
    // The service's entities: the first resource and every one `add entity` added.
    for other in entities(service)? {
        let theirs = Spellings::of(&other);
        let same = [
            ("type name", theirs.pascal == entity.pascal),
            ("plural", theirs.plural == entity.plural),
            ("route", theirs.plural_kebab == entity.plural_kebab),
        ];
        if let Some((what, _)) = same.iter().find(|(_, same)| *same) {
            bail_input!(
                "the entity name {:?} collides with the service's entity {other:?}: both have the {what} {:?}; {fix}",
                entity.snake,
                match *what {
                    "type name" => &entity.pascal,
                    "plural" => &entity.plural,
                    _ => &entity.plural_kebab,
                }
            );
        }
    }
    // Files the entity creates that something else already is.
    let mut files = vec![
        format!("crates/biz/src/{}_repo.rs", entity.snake),
        format!("crates/biz/src/{}_usecase.rs", entity.snake),
        format!("crates/data/src/dapr_{}_repo.rs", entity.snake),
        format!("tests/integration/tests/suite/{}.rs", entity.plural),
    ];
    if info.http() {
        files.push(format!("crates/service/src/http/{}.rs", entity.snake));
    }
    if info.grpc() {
        files.push(format!("crates/service/src/grpc/{}.rs", entity.snake));
    }
    for file in files {
        if service.path(&file).exists() {
            bail_input!(
                "the entity name {:?} would create {file}, which exists already; {fix}",
                entity.snake
            );
        }
    }
    // Names other code of the service declares in the scopes the entity's names go to.
    let mut taken: Vec<(String, &str)> = Vec::new();
    let read = |relative: &str| std::fs::read_to_string(service.path(relative)).unwrap_or_default();
    let module = read("crates/app/src/module.rs");
    taken.extend(
        [
            format!("Dapr{}Repo", entity.pascal),
            format!("{}Interactor", entity.pascal),
        ]
        .map(|name| (name, "")),
    );
    let mut clashes: Vec<String> = Vec::new();
    for (name, _) in &taken {
        if contains_word(&module, name) {
            clashes.push(format!("{name} (crates/app/src/module.rs)"));
        }
    }
    if info.http() {
        let bodies = read("crates/api/src/http.rs");
        for suffix in ["Body", "Dto", "Page"] {
            let name = format!("{}{suffix}", entity.pascal);
            if contains_word(&bodies, &name) {
                clashes.push(format!("{name} (crates/api/src/http.rs)"));
            }
        }
        let router = read("crates/service/src/router.rs");
        if router.contains(&format!("pub {}:", entity.plural)) {
            clashes.push(format!(
                "the HttpState field {} (crates/service/src/router.rs)",
                entity.plural
            ));
        }
        let document = read("openapi.json");
        let fixed = ["healthz", "readyz", "dapr", "events", "openapi.json"];
        if fixed.contains(&entity.plural_kebab.as_str()) || document.contains(&format!("\"/{}\"", entity.plural_kebab))
        {
            clashes.push(format!("the route /{}", entity.plural_kebab));
        }
    }
    if info.grpc() {
        let declared = proto_names(&service.path("crates/api/proto"))?;
        for name in proto_messages(entity) {
            if declared.contains(&name) {
                clashes.push(format!("the protobuf name {name} (crates/api/proto)"));
            }
        }
    }
    if let Some(first) = clashes.first() {
        bail_input!(
            "the entity name {:?} would declare {first} a second time; {fix}",
            entity.snake
        );
    }
    Ok(())
}

/// Whether `text` holds `word` as a whole identifier.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !part(before) && !part(after)
    })
}

/// The entities the service has: the first resource and those `add entity` added (each has a
/// `crates/biz/src/<name>_usecase.rs`).
fn entities(service: &Service) -> anyhow::Result<Vec<String>> {
    let dir = service.path("crates/biz/src");
    let mut found = vec![service.info.resource.clone()];
    let entries = std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(entity) = name.strip_suffix("_usecase.rs")
            && !found.iter().any(|known| known == entity)
        {
            found.push(entity.to_owned());
        }
    }
    Ok(found)
}

/// The protobuf names the entity declares in the service's package.
fn proto_messages(entity: &Spellings) -> Vec<String> {
    let (one, many) = (&entity.pascal, &entity.plural_pascal);
    vec![
        one.clone(),
        format!("{one}Service"),
        format!("Create{one}Request"),
        format!("Get{one}Request"),
        format!("List{many}Request"),
        format!("List{many}Response"),
        format!("Update{one}Request"),
        format!("Delete{one}Request"),
        format!("Delete{one}Response"),
    ]
}

/// Every message, enum and service name declared in the `.proto` files under `dir`.
fn proto_names(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "proto") {
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                for line in text.lines() {
                    let mut words = line.split_whitespace();
                    if let (Some("message" | "enum" | "service"), Some(name)) = (words.next(), words.next()) {
                        names.push(name.trim_end_matches('{').to_owned());
                    }
                }
            }
        }
    }
    Ok(names)
}

/// What the templates are rendered with.
#[derive(Debug, Serialize)]
struct Context {
    /// The command, as recorded in the biz module.
    command: String,
    service: ServiceContext,
    e: EntityContext,
    fields: Vec<FieldContext>,
    /// `, Eq` unless a field is a float.
    eq_derive: &'static str,
    /// The first field's name, for tests that need one.
    first_field: String,
    /// A value the field rules refuse, if a field has rules.
    invalid: Option<Sample>,
    /// A JSON text that does not parse, if a field is a text value.
    text_invalid: Option<Sample>,
    /// A protobuf string that does not parse, if a field is a decimal or a UUID.
    grpc_invalid: Option<Sample>,
    /// Whether a field is a timestamp (gRPC conversions, `google/protobuf/timestamp.proto`).
    has_timestamp: bool,
    proto_version_number: usize,
    proto_etag_number: usize,
    imports: Imports,
}

#[derive(Debug, Serialize)]
struct ServiceContext {
    name: String,
    snake: String,
    http: bool,
    grpc: bool,
    both: bool,
    resource: Spellings,
}

#[derive(Debug, Serialize)]
struct EntityContext {
    snake: String,
    pascal: String,
    plural: String,
    plural_pascal: String,
    plural_kebab: String,
    /// `order line`
    words: String,
    /// `order lines`
    plural_words: String,
}

#[derive(Debug, Serialize)]
struct FieldContext {
    name: String,
    /// Its doc comment (one line, no `///`).
    doc: String,
    rust_type: String,
    api_type: String,
    proto_type: String,
    /// Its number in the entity's message and the update request (after `id`).
    proto_number: usize,
    /// Its number in the create request.
    proto_input_number: usize,
    sample_biz: String,
    sample_json: String,
    sample_proto: String,
    /// `name: <expression>,` lines of the struct literals that map between the layers.
    to_http: String,
    from_http: String,
    to_grpc: String,
    from_grpc: String,
    /// Attribute lines of the field in the HTTP bodies.
    body_attributes: Vec<String>,
    dto_attributes: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Sample {
    name: String,
    /// A Rust expression.
    value: String,
    /// A JSON literal.
    json: String,
}

/// `use` blocks whose order depends on the names (see [`imports`]).
#[derive(Debug, Serialize)]
struct Imports {
    biz_entity: String,
    biz_repo: String,
    biz_usecase: String,
    data_repo: String,
    service_http: String,
    service_grpc: String,
    service_grpc_tests: String,
    integration: String,
    module: String,
}

impl Context {
    fn new(service: &Service, entity: &Spellings, fields: &[Field], command: String) -> Self {
        let info = &service.info;
        let resource = Spellings::of(&info.resource);
        let words = entity.snake.replace('_', " ");
        let field_contexts: Vec<FieldContext> = fields
            .iter()
            .enumerate()
            .map(|(index, field)| field_context(index, field))
            .collect();
        let has = |scalar: Scalar| fields.iter().any(|field| field.ty.scalar == scalar);
        let invalid = fields.iter().find_map(|field| {
            Some(Sample {
                name: field.name.clone(),
                value: field.ty.refused_rust()?,
                json: String::new(),
            })
        });
        let text_invalid = fields.iter().find_map(|field| {
            Some(Sample {
                name: field.name.clone(),
                value: String::new(),
                json: field.ty.unparsable_json()?,
            })
        });
        let grpc_invalid = fields.iter().find_map(|field| {
            Some(Sample {
                name: field.name.clone(),
                value: field.ty.unparsable_proto()?,
                json: String::new(),
            })
        });
        let imports = Imports::new(service, entity, &resource, fields);
        Self {
            command,
            service: ServiceContext {
                name: info.name.clone(),
                snake: info.service_snake.clone(),
                http: info.http(),
                grpc: info.grpc(),
                both: info.http() && info.grpc(),
                resource,
            },
            e: EntityContext {
                snake: entity.snake.clone(),
                pascal: entity.pascal.clone(),
                plural: entity.plural.clone(),
                plural_pascal: entity.plural_pascal.clone(),
                plural_kebab: entity.plural_kebab.clone(),
                plural_words: entity.plural.replace('_', " "),
                words,
            },
            eq_derive: if fields.iter().all(|field| field.ty.scalar.is_eq()) {
                ", Eq"
            } else {
                ""
            },
            first_field: fields[0].name.clone(),
            invalid,
            text_invalid,
            grpc_invalid,
            has_timestamp: has(Scalar::Timestamp),
            proto_version_number: fields.len() + 2,
            proto_etag_number: fields.len() + 3,
            fields: field_contexts,
            imports,
        }
    }
}

fn field_context(index: usize, field: &Field) -> FieldContext {
    let (name, ty) = (&field.name, field.ty);
    let words = name.replace('_', " ");
    let mut capitalized = words.chars();
    let words = capitalized
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + capitalized.as_str());
    let doc = format!("{}: {}.", words.unwrap_or_default(), ty.description());
    let copy = ty.shape != Shape::List && !matches!(ty.scalar, Scalar::String);
    let (to_http, from_http, to_grpc, from_grpc) = match ty.scalar {
        Scalar::Decimal | Scalar::Uuid => (
            format!("{name}: text(&value.{name}),"),
            format!("{name}: parse(\"{name}\", &body.{name})?,"),
            format!("{name}: text(&value.{name}),"),
            format!("{name}: parse(\"{name}\", &fields.{name})?,"),
        ),
        Scalar::Timestamp => (
            format!("{name}: text(&value.{name}),"),
            format!("{name}: parse(\"{name}\", &body.{name})?,"),
            format!("{name}: time_message(&value.{name}),"),
            format!("{name}: time(\"{name}\", fields.{name})?,"),
        ),
        _ => (
            if copy {
                format!("{name}: value.{name},")
            } else {
                format!("{name}: value.{name}.clone(),")
            },
            format!("{name}: body.{name},"),
            format!("{name}: value.{name},"),
            format!("{name}: fields.{name},"),
        ),
    };
    let format = match ty.scalar {
        Scalar::Decimal => Some("#[schema(format = \"decimal\")]"),
        Scalar::Uuid => Some("#[schema(format = Uuid)]"),
        Scalar::Timestamp => Some("#[schema(format = DateTime)]"),
        _ => None,
    };
    let body_attributes: Vec<String> = format.iter().map(|attribute| attribute.to_string()).collect();
    let mut dto_attributes = body_attributes.clone();
    if ty.shape == Shape::Optional {
        dto_attributes.push("#[serde(default, skip_serializing_if = \"Option::is_none\")]".to_owned());
    }
    FieldContext {
        name: name.clone(),
        doc,
        rust_type: ty.rust(),
        api_type: ty.api(),
        proto_type: ty.proto(),
        proto_number: index + 2,
        proto_input_number: index + 1,
        sample_biz: ty.sample_rust(),
        sample_json: ty.sample_json(),
        sample_proto: ty.sample_proto(),
        to_http,
        from_http,
        to_grpc,
        from_grpc,
        body_attributes,
        dto_attributes,
    }
}

impl Imports {
    fn new(service: &Service, entity: &Spellings, resource: &Spellings, fields: &[Field]) -> Self {
        let info = &service.info;
        let (e, p, r) = (&entity.snake, &entity.pascal, &resource.snake);
        let has = |test: fn(Scalar) -> bool| fields.iter().any(|field| test(field.ty.scalar));
        let has_text = has(Scalar::is_text_value);
        let has_string_text = has(|scalar| matches!(scalar, Scalar::Decimal | Scalar::Uuid));
        let has_timestamp = has(|scalar| scalar == Scalar::Timestamp);
        let own = |suffixes: &[&str]| suffixes.iter().map(|suffix| format!("{p}{suffix}")).collect::<Vec<_>>();

        let mut value_types = vec!["FieldRules".to_owned()];
        if has(|scalar| scalar == Scalar::Decimal) {
            value_types.push("Decimal".into());
        }
        if has_timestamp {
            value_types.push("Timestamp".into());
        }
        let biz_entity = imports::block(
            0,
            vec![
                Use::list(format!("crate::{r}"), ["ValidationError"]),
                Use::list("crate::value", value_types),
            ],
        );
        let biz_repo = imports::block(
            0,
            vec![
                Use::item("crate::error::RepoError"),
                Use::list("crate::page", ["Page", "PageRequest"]),
                Use::list(format!("crate::{r}"), ["Etag", "Stored", "ValidationError"]),
                Use::item(format!("crate::{r}_repo::ModifyError")),
                Use::list(format!("crate::{e}"), own(&["", "Event", "Id"])),
            ],
        );
        let biz_usecase = imports::block(
            0,
            vec![
                Use::item("crate::error::RepoError"),
                Use::list("crate::page", ["Page", "PageRequest"]),
                Use::list(format!("crate::{r}"), ["Etag", "Stored", "ValidationError"]),
                Use::item(format!("crate::{r}_repo::ModifyError")),
                Use::list(format!("crate::{e}"), own(&["", "Event", "Id", "Input"])),
                Use::item(format!("crate::{e}_repo::{p}Repo")),
            ],
        );
        let data_repo = imports::block(
            0,
            vec![
                Use::item("biz::error::RepoError"),
                Use::list("biz::page", ["Page", "PageRequest"]),
                Use::list(format!("biz::{r}"), ["Etag", "Stored"]),
                Use::list(format!("biz::{r}_repo"), ["ModifyError", "RetryPolicy"]),
                Use::list(format!("biz::{e}"), own(&["", "Event", "Id"])),
                Use::list(format!("biz::{e}_repo"), own(&["Change", "Repo"])),
            ],
        );
        let mut http = vec![
            Use::list(
                "api::http",
                [vec!["Problem".to_owned()], own(&["Body", "Dto", "Page"])].concat(),
            ),
            Use::item("axum::Router"),
            Use::list("axum::extract", ["FromRequestParts", "Path", "State"]),
            Use::item("axum::http::request::Parts"),
            Use::list("axum::http", ["HeaderValue", "StatusCode", "header"]),
            Use::item("axum::response::Response"),
            Use::item("axum::routing"),
            Use::item("biz::error::RepoError"),
            Use::item("biz::page::PageRequest"),
            Use::list(format!("biz::{r}"), ["Etag", "Stored", "ValidationError"]),
            Use::list(format!("biz::{e}"), own(&["", "Id", "Input"])),
            Use::item(format!("biz::{e}_usecase::{p}Error")),
        ];
        if has_text {
            http.push(Use::list("biz::value", ["parse", "text"]));
        }
        let svc = &info.service_snake;
        let mut grpc = vec![
            Use::item(format!("api::{svc}::v1 as pb")),
            Use::list(
                format!("api::{svc}::v1::{e}_service_server"),
                own(&["Service", "ServiceServer"]),
            ),
            Use::item("biz::error::RepoError"),
            Use::item("biz::page::PageRequest"),
            Use::list(format!("biz::{r}"), ["Etag", "Stored", "ValidationError"]),
            Use::list(format!("biz::{e}"), own(&["", "Id", "Input"])),
            Use::list(format!("biz::{e}_usecase"), own(&["Error", "Usecase"])),
            Use::list("tonic", ["Request", "Response", "Status"]),
            Use::item("tonic::service::Routes"),
        ];
        if has_string_text {
            grpc.push(Use::list("biz::value", ["parse", "text"]));
        }
        let mut grpc_tests = vec![
            Use::item("biz::page::Page"),
            Use::item(format!("biz::{e}_usecase::Mock{p}Usecase")),
            Use::item("tonic::Code"),
        ];
        if has_timestamp {
            grpc_tests.push(Use::item("api::prost_types::Timestamp as TimeMessage"));
        }
        let mut integration = Vec::new();
        if info.http() {
            integration.extend([
                Use::item("reqwest::StatusCode"),
                Use::list("reqwest::header", ["ETAG", "IF_MATCH", "LOCATION"]),
                Use::list("serde_json", ["Value", "json"]),
            ]);
        }
        if info.grpc() {
            let plural = &entity.plural_pascal;
            let mut messages = own(&["", "Request"]);
            messages.clear();
            messages.extend([
                format!("Create{p}Request"),
                format!("Delete{p}Request"),
                format!("Get{p}Request"),
                format!("List{plural}Request"),
                format!("Update{p}Request"),
                format!("{e}_service_client::{p}ServiceClient"),
            ]);
            integration.extend([
                Use::list(format!("api::{svc}::v1"), messages),
                Use::item("support::TestService"),
                Use::item("tonic::Code"),
                Use::item("tonic::transport::Channel"),
            ]);
            if has_timestamp {
                integration.push(Use::item("api::prost_types::Timestamp as TimeMessage"));
            }
        }
        let module = imports::block(
            0,
            vec![
                Use::item(format!("biz::{e}_usecase::{p}Interactor")),
                Use::list(
                    format!("data::dapr_{e}_repo"),
                    [format!("Dapr{p}Repo"), format!("Dapr{p}RepoParameters")],
                ),
            ],
        );
        Self {
            biz_entity,
            biz_repo,
            biz_usecase,
            data_repo,
            service_http: imports::block(0, http),
            service_grpc: imports::block(0, grpc),
            service_grpc_tests: imports::block(4, grpc_tests),
            integration: imports::block(0, integration),
            module,
        }
    }
}

/// Renders every template the service's transports need into `plan`.
fn add_files(
    service: &Service,
    templates: &Templates,
    context: &Context,
    fields: &[Field],
    plan: &mut Plan,
) -> anyhow::Result<()> {
    let info = &service.info;
    let e = &context.e.snake;
    let render = |name: &str| templates.render(&format!("entity/{name}"), context);
    let has_timestamp = context.has_timestamp;

    // biz: the entity, its port and use cases, and the shared field values.
    plan.create("crates/biz/src/value.rs", render("biz/value.rs.hbs")?);
    plan.create(format!("crates/biz/src/{e}.rs"), render("biz/entity.rs.hbs")?);
    plan.create(format!("crates/biz/src/{e}_repo.rs"), render("biz/repo.rs.hbs")?);
    plan.create(format!("crates/biz/src/{e}_usecase.rs"), render("biz/usecase.rs.hbs")?);
    plan.insert(
        "crates/biz/src/lib.rs",
        "biz-modules",
        render("wiring/biz_value_module.rs.hbs")?,
    );
    plan.insert(
        "crates/biz/src/lib.rs",
        "biz-modules",
        render("wiring/biz_modules.rs.hbs")?,
    );
    plan.insert(
        "crates/biz/Cargo.toml",
        "biz-dependencies",
        render("wiring/biz_dependencies.toml.hbs")?,
    );

    // data: the Dapr adapter.
    plan.create(format!("crates/data/src/dapr_{e}_repo.rs"), render("data/repo.rs.hbs")?);
    plan.insert(
        "crates/data/src/lib.rs",
        "data-modules",
        render("wiring/data_modules.rs.hbs")?,
    );

    // app: the composition root.
    plan.insert(
        "crates/app/src/module.rs",
        "module-imports",
        render("wiring/module_imports.rs.hbs")?,
    );
    plan.insert(
        "crates/app/src/module.rs",
        "module-components",
        render("wiring/module_components.rs.hbs")?,
    );
    plan.insert(
        "crates/app/src/module.rs",
        "module-parameters",
        render("wiring/module_parameters.rs.hbs")?,
    );
    // The app's tests build the module with every Dapr adapter replaced by a mock.
    let adapters = "crates/app/tests/common/mod.rs";
    plan.insert(
        adapters,
        "test-adapter-imports",
        render("wiring/test_adapter_imports.rs.hbs")?,
    );
    plan.insert(
        adapters,
        "test-adapter-fields",
        render("wiring/test_adapter_fields.rs.hbs")?,
    );
    plan.insert(
        adapters,
        "test-adapter-overrides",
        render("wiring/test_adapter_overrides.rs.hbs")?,
    );

    if info.http() {
        plan.insert("crates/api/src/http.rs", "http-bodies", render("api/http.rs.hbs")?);
        plan.create(
            format!("crates/service/src/http/{e}.rs"),
            render("service/http.rs.hbs")?,
        );
        plan.insert(
            "crates/service/src/http/mod.rs",
            "http-modules",
            render("wiring/http_modules.rs.hbs")?,
        );
        plan.insert(
            "crates/service/src/http/mod.rs",
            "http-routes",
            render("wiring/http_routes.rs.hbs")?,
        );
        plan.insert(
            "crates/service/src/http/openapi.rs",
            "openapi-paths",
            render("wiring/openapi_paths.rs.hbs")?,
        );
        let entity = Spellings::of(e);
        let docs: Vec<String> = context.fields.iter().map(|field| field.doc.clone()).collect();
        plan.merge_json("openapi.json", "/paths", openapi::paths(&entity, &context.e.words));
        plan.merge_json(
            "openapi.json",
            "/components/schemas",
            openapi::schemas(&entity, &context.e.words, fields, &docs),
        );
        plan.insert(
            "crates/service/src/router.rs",
            "http-state-imports",
            render("wiring/router_imports.rs.hbs")?,
        );
        plan.insert(
            "crates/service/src/router.rs",
            "http-state-fields",
            render("wiring/router_fields.rs.hbs")?,
        );
        plan.insert(
            "crates/app/src/startup.rs",
            "http-state-resolve",
            render("wiring/startup_state.rs.hbs")?,
        );
        let support = "crates/service/src/test_support.rs";
        plan.insert(support, "test-mock-imports", render("wiring/test_mock_imports.rs.hbs")?);
        plan.insert(support, "test-mock-fields", render("wiring/test_mock_fields.rs.hbs")?);
        plan.insert(support, "test-mock-new", render("wiring/test_mock_new.rs.hbs")?);
        plan.insert(support, "test-mock-state", render("wiring/test_mock_state.rs.hbs")?);
    }

    if info.grpc() {
        let proto = format!("crates/api/proto/{}/v1/{e}.proto", info.service_snake);
        plan.create(proto, render("api/entity.proto.hbs")?);
        plan.create(
            format!("crates/service/src/grpc/{e}.rs"),
            render("service/grpc.rs.hbs")?,
        );
        plan.insert(
            "crates/service/src/grpc/mod.rs",
            "grpc-modules",
            render("wiring/grpc_modules.rs.hbs")?,
        );
        plan.insert(
            "crates/service/src/grpc/mod.rs",
            "grpc-exports",
            render("wiring/grpc_exports.rs.hbs")?,
        );
        plan.insert(
            "crates/app/src/startup.rs",
            "startup-imports",
            render("wiring/startup_imports.rs.hbs")?,
        );
        plan.insert(
            "crates/app/src/startup.rs",
            "grpc-services",
            render("wiring/startup_grpc.rs.hbs")?,
        );
        if has_timestamp {
            // `google.protobuf.Timestamp` fields: the api crate compiles them with prost-types and
            // re-exports it; the service converts them in one shared module.
            plan.insert(
                "crates/api/Cargo.toml",
                "api-dependencies",
                render("wiring/api_dependencies.toml.hbs")?,
            );
            plan.insert(
                "crates/api/src/lib.rs",
                "api-exports",
                render("wiring/api_exports.rs.hbs")?,
            );
            plan.create(
                "crates/service/src/grpc/convert.rs",
                render("service/grpc_convert.rs.hbs")?,
            );
            plan.insert(
                "crates/service/src/grpc/mod.rs",
                "grpc-modules",
                render("wiring/grpc_convert_module.rs.hbs")?,
            );
        }
    }

    // The integration test, in the suite of the others.
    let suite = "tests/integration/tests/suite";
    plan.create(
        format!("{suite}/{}.rs", context.e.plural),
        render("tests/integration.rs.hbs")?,
    );
    plan.insert(
        format!("{suite}/main.rs"),
        "suite-modules",
        render("wiring/suite_modules.rs.hbs")?,
    );
    Ok(())
}

#[cfg(test)]
mod tests;
