//! OpenAPI 3 for the REST API, generated from the same annotations and
//! message descriptors the gateway routes and transcodes with, so the
//! document cannot drift from what is served. Every operation requires a
//! bearer token.

use std::collections::BTreeMap;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Value, json};

use crate::routes::{BodyRule, RouteTable};

/// The OpenAPI document of `table`.
pub(crate) fn document(table: &RouteTable) -> Value {
    let mut schemas = BTreeMap::new();
    let mut paths: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for route in table.routes() {
        let input = route.input();
        let mut parameters: Vec<Value> = route
            .template
            .variables()
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if route.body == BodyRule::None {
            for field in input.fields() {
                if route.template.variables().any(|v| v == field.name()) {
                    continue;
                }
                parameters.push(json!({
                    "name": field.json_name(),
                    "in": "query",
                    "required": false,
                    "schema": field_schema(&field, &mut schemas),
                }));
            }
        }
        let mut operation = json!({
            "operationId": route.rpc.name(),
            "summary": route.rpc.full_name(),
            "tags": [route.rpc.parent_service().name()],
            "parameters": parameters,
            "security": [{"bearerAuth": []}],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": schema_ref(&route.output(), &mut schemas)}},
                },
                "400": {"$ref": "#/components/responses/Problem"},
                "401": {"$ref": "#/components/responses/Problem"},
                "403": {"$ref": "#/components/responses/Problem"},
                "404": {"$ref": "#/components/responses/Problem"},
                "429": {"$ref": "#/components/responses/Problem"},
                "default": {"$ref": "#/components/responses/Problem"},
            },
        });
        if route.body != BodyRule::None {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": schema_ref(&input, &mut schemas)}},
            });
        }
        paths
            .entry(route.template.as_str().to_owned())
            .or_default()
            .insert(route.method.as_str().to_lowercase(), operation);
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Secure gRPC mesh", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": schemas,
            "responses": {"Problem": {
                "description": "An RFC 9457 problem",
                "content": {"application/problem+json": {"schema": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"}, "title": {"type": "string"},
                        "status": {"type": "integer"}, "detail": {"type": "string"},
                    },
                }}},
            }},
        },
    })
}

fn schema_ref(message: &MessageDescriptor, schemas: &mut BTreeMap<String, Value>) -> Value {
    let name = message.full_name().to_owned();
    if !schemas.contains_key(&name) {
        // Reserve the name first: messages may refer to themselves.
        schemas.insert(name.clone(), Value::Null);
        let properties: serde_json::Map<String, Value> = message
            .fields()
            .map(|f| (f.json_name().to_owned(), field_schema(&f, schemas)))
            .collect();
        schemas.insert(
            name.clone(),
            json!({"type": "object", "properties": properties}),
        );
    }
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn field_schema(field: &FieldDescriptor, schemas: &mut BTreeMap<String, Value>) -> Value {
    let one = match field.kind() {
        Kind::String => json!({"type": "string"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({"type": "integer", "format": "int32"})
        }
        Kind::Uint32 | Kind::Fixed32 => json!({"type": "integer", "format": "int64", "minimum": 0}),
        // proto3 JSON writes 64-bit integers as strings.
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            json!({"type": "string", "format": "int64"})
        }
        Kind::Double | Kind::Float => json!({"type": "number"}),
        Kind::Bytes => json!({"type": "string", "format": "byte"}),
        Kind::Enum(e) => {
            json!({"type": "string", "enum": e.values().map(|v| v.name().to_owned()).collect::<Vec<_>>()})
        }
        Kind::Message(m) => schema_ref(&m, schemas),
    };
    if field.is_list() {
        json!({"type": "array", "items": one})
    } else {
        one
    }
}
