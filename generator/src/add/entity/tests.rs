//! Tests of `add entity`: bad input of every kind, refused before anything is planned, and every
//! template rendered with a sample context (insta snapshots). That the rendered code builds,
//! passes clippy and its own tests in a service of each transport is the end-to-end test's job.

use std::path::Path;

use super::*;
use crate::add::engine::Change;
use crate::add::service::MARKER;
use crate::error::is_bad_input;

const SAMPLE_FIELDS: &[&str] = &[
    "name:string",
    "email:option<string>",
    "tags:list<string>",
    "credit:decimal",
    "born:option<timestamp>",
    "seen:list<timestamp>",
    "active:bool",
    "visits:u64",
    "rank:i32",
    "score:float",
    "external_id:uuid",
];

/// A service tree with what the checks read: its options, the first resource's modules, a
/// protobuf contract and HTTP bodies naming the first resource's and the workflow's types.
fn service(transport: &str) -> (tempfile::TempDir, Service) {
    let dir = tempfile::tempdir().unwrap();
    let write = |relative: &str, text: &str| {
        let path = dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        MARKER,
        &format!(
            "name = \"shop\"\nservice_snake = \"shop\"\nresource = \"item\"\ntransport = \"{transport}\"\n\
             state_store = \"redis\"\npubsub = \"redis\"\nwith_lock = true\nwith_workflow = true\n"
        ),
    );
    for module in [
        "item",
        "item_repo",
        "item_usecase",
        "item_adjustment",
        "error",
        "page",
        "workflow",
    ] {
        write(
            &format!("crates/biz/src/{module}.rs"),
            "//! A module of the template.\n",
        );
    }
    write(
        "crates/api/src/http.rs",
        "pub struct ItemBody;\npub struct RestockLineBody;\n",
    );
    write(
        "crates/api/proto/shop/v1/item.proto",
        "service ItemService {\n}\nmessage Item {\n}\nmessage Restock {\n  enum Status {\n  }\n}\n",
    );
    write(
        "crates/service/src/router.rs",
        "pub struct HttpState {\n    pub items: X,\n    pub transfers: X,\n}\n",
    );
    write("crates/app/src/module.rs", "use biz::workflow::RestockInteractor;\n");
    write("tests/integration/tests/suite/transfers.rs", "");
    write("openapi.json", "{\"paths\": {\"/items\": {}, \"/restocks\": {}}}");
    let service = Service::open(dir.path()).unwrap();
    (dir, service)
}

fn args(name: &str, fields: &[&str]) -> EntityArgs {
    EntityArgs {
        name: name.to_owned(),
        fields: fields.iter().map(|field| field.to_string()).collect(),
    }
}

fn plan_for(service: &Service, name: &str, fields: &[&str]) -> anyhow::Result<Plan> {
    plan(service, &Templates::builtin().unwrap(), &args(name, fields))
}

/// Every file of the tree, for byte-for-byte comparison.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn bad_names_and_fields_are_refused_naming_the_value_and_the_fix_and_change_nothing() {
    let (dir, service) = service("both");
    let before = snapshot(dir.path());
    let long = "a".repeat(MAX_ENTITY_CHARS + 1);
    // The name, the fields, what the message must say, and the bad value it must name.
    let cases: &[(&str, &[&str], &str, &str)] = &[
        ("fn", &["a:string"], "keyword", "fn"),
        ("9lives", &["a:string"], "does not start with a letter", "9lives"),
        ("kundé", &["a:string"], "contains 'é'", "kundé"),
        ("Customer", &["a:string"], "e.g. customer", "Customer"),
        ("a/b", &["a:string"], "is a path", "a/b"),
        ("..", &["a:string"], "is a path", ".."),
        ("", &["a:string"], "is empty", "entity name"),
        ("order__line", &["a:string"], "doubled", "order__line"),
        ("a", &["a:string"], "plural \"as\"", "\"a\""),
        (&long, &["a:string"], "longer than", &long),
        ("value", &["a:string"], "module daprgen adds", "value"),
        ("chrono", &["a:string"], "crate", "chrono"),
        ("item", &["a:string"], "first resource", "item"),
        (
            "item_repo",
            &["a:string"],
            "was not made by `daprgen add entity`",
            "item_repo",
        ),
        (
            "transfer",
            &["a:string"],
            "tests/integration/tests/suite/transfers.rs",
            "transfer",
        ),
        ("restock_line", &["a:string"], "RestockLineBody", "restock_line"),
        ("restock", &["a:string"], "a second time", "restock"),
        ("customer", &["price:money"], "unknown type \"money\"", "price:money"),
        ("customer", &["price:decimal", "price:f64"], "given twice", "price"),
        (
            "customer",
            &["tags:list<option<string>>"],
            "do not nest",
            "tags:list<option<string>>",
        ),
        ("customer", &["type:string"], "keyword", "type"),
        ("customer", &["id:uuid"], "is taken", "id"),
        ("customer", &["price"], "is not NAME:TYPE", "price"),
        ("customer", &[], "at least one field", "--field"),
    ];
    for (name, fields, expected, bad) in cases {
        let error = plan_for(&service, name, fields).unwrap_err();
        assert!(is_bad_input(&error), "{name} {fields:?}: {error:#}");
        let message = format!("{error:#}");
        assert!(message.contains(expected), "{name} {fields:?}: {message}");
        assert!(
            message.contains(bad),
            "{name} {fields:?}: the message does not name {bad}: {message}"
        );
        let fix = ["e.g.", "choose", "give each", "use option<T>"];
        assert!(
            fix.iter().any(|fix| message.contains(fix)),
            "{name} {fields:?} gives no fix: {message}"
        );
    }
    assert_eq!(snapshot(dir.path()), before, "bad input changed the tree");
}

#[test]
fn names_equal_after_case_conversion_collide() {
    let (dir, service) = service("http");
    std::fs::write(dir.path().join("crates/biz/src/order_item_2_usecase.rs"), "").unwrap();
    let error = format!("{:#}", plan_for(&service, "order_item2", &["a:string"]).unwrap_err());
    assert!(
        error.contains("\"order_item_2\"") && error.contains("OrderItem2"),
        "{error}"
    );
    // `boxe` and `box` are both `boxes`.
    std::fs::write(dir.path().join("crates/biz/src/box_usecase.rs"), "").unwrap();
    let error = format!("{:#}", plan_for(&service, "boxe", &["a:string"]).unwrap_err());
    assert!(error.contains("plural \"boxes\""), "{error}");
}

#[test]
fn the_same_entity_again_plans_nothing_and_other_fields_are_refused() {
    let (dir, service) = service("both");
    let first = plan_for(&service, "customer", SAMPLE_FIELDS).unwrap();
    let Some(Change::Create { content, .. }) = first.changes.iter().find(
        |change| matches!(change, Change::Create { path, .. } if path == Path::new("crates/biz/src/customer.rs")),
    ) else {
        panic!("no biz module planned");
    };
    std::fs::write(dir.path().join("crates/biz/src/customer.rs"), content).unwrap();
    // Spelt differently, the same fields: `float` is `f64`, types are case-insensitive.
    let mut again: Vec<String> = SAMPLE_FIELDS
        .iter()
        .map(|field| field.replace("float", "F64"))
        .collect();
    again[0] = "name:String".into();
    let again: Vec<&str> = again.iter().map(String::as_str).collect();
    assert!(plan_for(&service, "customer", &again).unwrap().changes.is_empty());
    let error = plan_for(&service, "customer", &["name:string"]).unwrap_err();
    assert!(is_bad_input(&error));
    let message = error.to_string();
    assert!(
        message.contains("already exists") && message.contains("--field credit:decimal"),
        "{message}"
    );
}

#[test]
fn each_transport_gets_its_own_layers() {
    let paths = |transport: &str| -> Vec<String> {
        let (_dir, service) = service(transport);
        let plan = plan_for(&service, "customer", SAMPLE_FIELDS).unwrap();
        plan.changes
            .iter()
            .map(|change| match change {
                Change::Create { path, .. }
                | Change::Insert { path, .. }
                | Change::MergeJson { path, .. }
                | Change::AppendJson { path, .. } => path.to_string_lossy().into_owned(),
            })
            .collect()
    };
    let http = paths("http");
    assert!(http.contains(&"crates/service/src/http/customer.rs".into()) && http.contains(&"openapi.json".into()));
    assert!(
        !http
            .iter()
            .any(|path| path.contains("grpc") || path.ends_with(".proto")),
        "{http:?}"
    );
    let grpc = paths("grpc");
    assert!(grpc.contains(&"crates/api/proto/shop/v1/customer.proto".into()));
    assert!(
        grpc.contains(&"crates/service/src/grpc/convert.rs".into()),
        "timestamps need the conversions"
    );
    assert!(
        !grpc.iter().any(|path| path.contains("/http") || path == "openapi.json"),
        "{grpc:?}"
    );
    let both = paths("both");
    assert!(http.iter().chain(&grpc).all(|path| both.contains(path)));
}

#[test]
fn openapi_entries_are_merged_for_the_new_paths_and_schemas() {
    let (_dir, service) = service("http");
    let plan = plan_for(&service, "order_line", &["qty:u32"]).unwrap();
    let merged: Vec<(&str, Vec<&String>)> = plan
        .changes
        .iter()
        .filter_map(|change| match change {
            Change::MergeJson { pointer, entries, .. } => Some((pointer.as_str(), entries.keys().collect())),
            _ => None,
        })
        .collect();
    assert_eq!(merged[0].0, "/paths");
    assert_eq!(merged[0].1, ["/order-lines", "/order-lines/{id}"]);
    assert_eq!(merged[1].0, "/components/schemas");
    assert_eq!(merged[1].1, ["OrderLineBody", "OrderLineDto", "OrderLinePage"]);
}

/// Every template, rendered for a service with both transports and fields of every kind.
#[test]
fn every_template_renders_as_snapshotted() {
    let (_dir, service) = service("both");
    let entity = Spellings::of("customer");
    let fields =
        fields::parse_fields(&SAMPLE_FIELDS.iter().map(|field| field.to_string()).collect::<Vec<_>>()).unwrap();
    let context = Context::new(&service, &entity, &fields, command_line("customer", &fields));
    let templates = Templates::builtin().unwrap();
    let names: Vec<String> = templates
        .names()
        .into_iter()
        .filter(|name| name.starts_with("entity/"))
        .collect();
    assert!(names.len() > 30, "{names:?}");
    for name in names {
        let rendered = templates.render(&name, &context).unwrap();
        let snapshot = name
            .trim_start_matches("entity/")
            .trim_end_matches(".hbs")
            .replace('/', "__");
        insta::assert_snapshot!(snapshot, rendered);
    }
}

/// A second sample: one required field of a type with no rules and no text values, over HTTP
/// only, so the templates' optional parts are seen left out.
#[test]
fn a_minimal_entity_renders_as_snapshotted() {
    let (_dir, service) = service("http");
    let entity = Spellings::of("tag");
    let fields = fields::parse_fields(&["count:i64".to_owned()]).unwrap();
    let context = Context::new(&service, &entity, &fields, command_line("tag", &fields));
    let templates = Templates::builtin().unwrap();
    for name in [
        "biz/entity.rs.hbs",
        "biz/usecase.rs.hbs",
        "service/http.rs.hbs",
        "tests/integration.rs.hbs",
    ] {
        let rendered = templates.render(&format!("entity/{name}"), &context).unwrap();
        let snapshot = format!("minimal__{}", name.trim_end_matches(".hbs").replace('/', "__"));
        insta::assert_snapshot!(snapshot, rendered);
    }
}
