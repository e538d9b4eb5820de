//! The entity's part of the service's `openapi.json`: its two paths and three schemas, exactly as
//! utoipa renders them from the handlers' `#[utoipa::path]` attributes and the bodies' `ToSchema`
//! derives in the generated code. `add entity` cannot run cargo, so it writes the document's new
//! entries itself; the service's own test (`openapi_json_is_the_document_the_code_serves`)
//! proves the two agree, and this module's tests pin what utoipa 5 renders for each field type.

use serde_json::{Map, Value, json};

use super::fields::{Field, FieldType, Scalar, Shape};
use crate::add::names::Spellings;

/// Where problem details are described.
const PROBLEM: &str = "#/components/schemas/Problem";

/// The entries to merge into `/paths`.
pub fn paths(entity: &Spellings, words: &str) -> Map<String, Value> {
    let tag = json!([entity.plural]);
    let schema = |suffix: &str| json!({ "$ref": format!("#/components/schemas/{}{suffix}", entity.pascal) });
    let id = json!({
        "name": "id",
        "in": "path",
        "description": format!("Id of the {words}."),
        "required": true,
        "schema": { "type": "string", "format": "uuid" }
    });
    let etag_header =
        |description: &str| json!({ "ETag": { "schema": { "type": "string" }, "description": description } });
    let collection = json!({
        "get": {
            "tags": tag,
            "summary": format!("Lists {} in creation order, one page at a time.", plural_words(entity)),
            "operationId": format!("list_{}", entity.plural),
            "parameters": [
                {
                    "name": "page_size",
                    "in": "query",
                    "description": "Items per page, 1 to 100 (default 20).",
                    "required": false,
                    "schema": { "type": "integer", "format": "int32", "maximum": 100, "minimum": 1 }
                },
                {
                    "name": "page_token",
                    "in": "query",
                    "description": "The `next_page_token` of the previous page.",
                    "required": false,
                    "schema": { "type": "string" }
                }
            ],
            "responses": responses(vec![
                ("200", ok("One page.", schema("Page"), None)),
                ("400", problem("Invalid page size or token.")),
                ("503", problem("Storage unavailable; retry later.")),
            ])
        },
        "post": {
            "tags": tag,
            "summary": format!("Creates a new {words}."),
            "operationId": format!("create_{}", entity.snake),
            "parameters": [{
                "name": "Idempotency-Key",
                "in": "header",
                "description": format!(
                    "Names this request (e.g. a UUID): a retry with the same key and body gets the first answer again, not a second {words}."
                ),
                "required": false,
                "schema": { "type": "string", "maxLength": 255, "minLength": 1 }
            }],
            "requestBody": request_body(schema("Body")),
            "responses": responses(vec![
                ("201", ok("Created.", schema("Dto"), Some(json!({
                    "ETag": { "schema": { "type": "string" }, "description": format!("Version of the {words}.") },
                    "Location": { "schema": { "type": "string" }, "description": format!("Path of the {words}.") }
                })))),
                ("400", problem("Malformed JSON or Idempotency-Key.")),
                ("409", problem("A request with this Idempotency-Key is still being processed.")),
                ("413", problem("Body too large.")),
                ("415", problem("Body is not JSON.")),
                ("422", problem(&format!("Invalid {words}, or Idempotency-Key used with another request."))),
                ("503", problem("Storage unavailable; retry later.")),
            ])
        }
    });
    let item = json!({
        "get": {
            "tags": tag,
            "summary": format!("Reads one {words}."),
            "operationId": format!("get_{}", entity.snake),
            "parameters": [id],
            "responses": responses(vec![
                ("200", ok(&format!("The {words}."), schema("Dto"), Some(etag_header(&format!("Version of the {words}."))))),
                ("400", problem("The id is not a UUID.")),
                ("404", problem(&format!("No such {words}."))),
                ("503", problem("Storage unavailable; retry later.")),
            ])
        },
        "put": {
            "tags": tag,
            "summary": "Replaces one {words}: exactly the version named in `If-Match`.".replace("{words}", words),
            "operationId": format!("update_{}", entity.snake),
            "parameters": [
                id,
                {
                    "name": "If-Match",
                    "in": "header",
                    "description": "The ETag of the version being replaced (required).",
                    "required": true,
                    "schema": { "type": "string" }
                }
            ],
            "requestBody": request_body(schema("Body")),
            "responses": responses(vec![
                ("200", ok("Replaced.", schema("Dto"), Some(etag_header("The new version.")))),
                ("400", problem("Malformed id, JSON or If-Match.")),
                ("404", problem(&format!("No such {words}."))),
                ("412", problem("The If-Match version is no longer current.")),
                ("413", problem("Body too large.")),
                ("415", problem("Body is not JSON.")),
                ("422", problem(&format!("Invalid {words}."))),
                ("428", problem("If-Match is missing.")),
                ("503", problem("Storage unavailable; retry later.")),
            ])
        },
        "delete": {
            "tags": tag,
            "summary": "Deletes one {words}; only the version named in `If-Match`, when one is given.".replace("{words}", words),
            "operationId": format!("delete_{}", entity.snake),
            "parameters": [
                id,
                {
                    "name": "If-Match",
                    "in": "header",
                    "description": "Delete only this version (an ETag).",
                    "required": false,
                    "schema": { "type": "string" }
                }
            ],
            "responses": responses(vec![
                ("204", json!({ "description": "Deleted." })),
                ("400", problem("Malformed id or If-Match.")),
                ("404", problem(&format!("No such {words}."))),
                ("409", problem("Changed while being deleted; read it again, then decide.")),
                ("412", problem("The If-Match version is no longer current.")),
                ("503", problem("Storage unavailable; retry later.")),
            ])
        }
    });
    Map::from_iter([
        (format!("/{}", entity.plural_kebab), collection),
        (format!("/{}/{{id}}", entity.plural_kebab), item),
    ])
}

/// The entries to merge into `/components/schemas`.
pub fn schemas(entity: &Spellings, words: &str, fields: &[Field], docs: &[String]) -> Map<String, Value> {
    let mut body = Map::new();
    let mut body_required = Vec::new();
    let mut dto = Map::new();
    let mut dto_required = vec![json!("id")];
    dto.insert(
        "id".into(),
        json!({ "type": "string", "format": "uuid", "description": "Its identity." }),
    );
    for (field, doc) in fields.iter().zip(docs) {
        if field.ty.shape != Shape::Optional {
            body_required.push(json!(field.name));
            dto_required.push(json!(field.name));
        }
        body.insert(field.name.clone(), property(field.ty, doc));
        dto.insert(field.name.clone(), property(field.ty, doc));
    }
    dto_required.push(json!("version"));
    dto.insert(
        "version".into(),
        json!({ "type": "integer", "format": "int64", "description": "Incremented by every change.", "minimum": 0 }),
    );
    let plural = plural_words(entity);
    Map::from_iter([
        (
            format!("{}Body", entity.pascal),
            json!({
                "type": "object",
                "description": format!("The fields of a new {words}, or the replacement of a stored one."),
                "required": body_required,
                "properties": body,
                "additionalProperties": false
            }),
        ),
        (
            format!("{}Dto", entity.pascal),
            json!({
                "type": "object",
                "description": format!("A stored {words}. Its current version tag is in the `ETag` response header."),
                "required": dto_required,
                "properties": dto
            }),
        ),
        (
            format!("{}Page", entity.pascal),
            json!({
                "type": "object",
                "description": format!("One page of {plural}."),
                "required": ["items"],
                "properties": {
                    "items": {
                        "type": "array",
                        "items": { "$ref": format!("#/components/schemas/{}Dto", entity.pascal) },
                        "description": format!("The {plural}, in creation order.")
                    },
                    "next_page_token": {
                        "type": ["string", "null"],
                        "description": "Pass it as `page_token` to get the next page; absent on the last page."
                    }
                }
            }),
        ),
    ])
}

/// `customer_orders` as prose: `customer orders`.
fn plural_words(entity: &Spellings) -> String {
    entity.plural.replace('_', " ")
}

/// The schema of one scalar value, as utoipa renders its Rust type in the HTTP bodies.
fn scalar_schema(scalar: Scalar, nullable: bool) -> Map<String, Value> {
    let (kind, format, minimum) = match scalar {
        Scalar::String => ("string", None, false),
        Scalar::Bool => ("boolean", None, false),
        Scalar::I32 => ("integer", Some("int32"), false),
        Scalar::I64 => ("integer", Some("int64"), false),
        Scalar::U32 => ("integer", Some("int32"), true),
        Scalar::U64 => ("integer", Some("int64"), true),
        Scalar::F64 => ("number", Some("double"), false),
        Scalar::Decimal => ("string", Some("decimal"), false),
        Scalar::Uuid => ("string", Some("uuid"), false),
        Scalar::Timestamp => ("string", Some("date-time"), false),
    };
    let mut schema = Map::new();
    schema.insert(
        "type".into(),
        if nullable { json!([kind, "null"]) } else { json!(kind) },
    );
    if let Some(format) = format {
        schema.insert("format".into(), json!(format));
    }
    if minimum {
        schema.insert("minimum".into(), json!(0));
    }
    schema
}

/// The schema of a field of the bodies, with its description.
fn property(ty: FieldType, doc: &str) -> Value {
    let mut schema = match ty.shape {
        Shape::One => scalar_schema(ty.scalar, false),
        Shape::Optional => scalar_schema(ty.scalar, true),
        Shape::List => Map::from_iter([
            ("type".to_owned(), json!("array")),
            ("items".to_owned(), Value::Object(scalar_schema(ty.scalar, false))),
        ]),
    };
    // utoipa puts the description after the type and format, before the bounds.
    let minimum = schema.remove("minimum");
    schema.insert("description".into(), json!(doc));
    if let Some(minimum) = minimum {
        schema.insert("minimum".into(), minimum);
    }
    Value::Object(schema)
}

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": { "schema": { "$ref": PROBLEM } } }
    })
}

fn ok(description: &str, schema: Value, headers: Option<Value>) -> Value {
    let mut response = Map::new();
    response.insert("description".into(), json!(description));
    if let Some(headers) = headers {
        response.insert("headers".into(), headers);
    }
    response.insert("content".into(), json!({ "application/json": { "schema": schema } }));
    Value::Object(response)
}

fn request_body(schema: Value) -> Value {
    json!({ "content": { "application/json": { "schema": schema } }, "required": true })
}

fn responses(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(status, response)| (status.to_owned(), response))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(scalar: Scalar, shape: Shape) -> FieldType {
        FieldType { scalar, shape }
    }

    #[test]
    fn field_schemas_are_what_utoipa_renders_for_their_types() {
        assert_eq!(
            property(ty(Scalar::U64, Shape::One), "n"),
            json!({ "type": "integer", "format": "int64", "description": "n", "minimum": 0 })
        );
        assert_eq!(
            property(ty(Scalar::Uuid, Shape::Optional), "u"),
            json!({ "type": ["string", "null"], "format": "uuid", "description": "u" })
        );
        assert_eq!(
            property(ty(Scalar::Timestamp, Shape::List), "t"),
            json!({ "type": "array", "items": { "type": "string", "format": "date-time" }, "description": "t" })
        );
    }

    #[test]
    fn optional_fields_are_not_required() {
        let fields = [
            Field {
                name: "name".into(),
                ty: ty(Scalar::String, Shape::One),
            },
            Field {
                name: "note".into(),
                ty: ty(Scalar::String, Shape::Optional),
            },
            Field {
                name: "tags".into(),
                ty: ty(Scalar::String, Shape::List),
            },
        ];
        let docs = vec!["a".to_owned(); 3];
        let schemas = schemas(&Spellings::of("order_line"), "order line", &fields, &docs);
        assert_eq!(schemas["OrderLineBody"]["required"], json!(["name", "tags"]));
        assert_eq!(
            schemas["OrderLineDto"]["required"],
            json!(["id", "name", "tags", "version"])
        );
        assert_eq!(schemas["OrderLinePage"]["description"], "One page of order lines.");
        let paths = paths(&Spellings::of("order_line"), "order line");
        assert_eq!(paths.keys().collect::<Vec<_>>(), ["/order-lines", "/order-lines/{id}"]);
        assert_eq!(paths["/order-lines"]["get"]["operationId"], "list_order_lines");
    }
}
