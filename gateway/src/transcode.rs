//! REST ↔ protobuf, by the proto3 JSON mapping (prost-reflect), driven by
//! the descriptor set: path variables, query parameters and the JSON body
//! become one request message; a response message becomes JSON.

use prost::Message;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, SerializeOptions,
    Value,
};

use crate::{
    problem::GatewayError,
    routes::{BodyRule, Route},
};

/// Builds the encoded request message of `route`.
pub(crate) fn request(
    route: &Route,
    bound: &[(String, String)],
    query: Option<&str>,
    body: &[u8],
) -> Result<Vec<u8>, GatewayError> {
    let input = route.input();
    let mut message = match &route.body {
        BodyRule::None => {
            if !body.iter().all(u8::is_ascii_whitespace) {
                return Err(GatewayError::bad_request(
                    "this operation takes no request body",
                ));
            }
            DynamicMessage::new(input.clone())
        }
        BodyRule::Whole => from_json(input.clone(), body)?,
        BodyRule::Field(name) => {
            let field = input.get_field_by_name(name).ok_or_else(|| {
                GatewayError::internal(format!("body field {name} is not in {}", input.full_name()))
            })?;
            let Kind::Message(kind) = field.kind() else {
                return Err(GatewayError::internal("only message fields can be a body"));
            };
            let mut message = DynamicMessage::new(input.clone());
            message.set_field(&field, Value::Message(from_json(kind, body)?));
            message
        }
    };
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|_| {
            GatewayError::bad_request("the query string is not valid form encoding")
        })?;
        for (key, value) in pairs {
            let field = field_named(&input, &key).ok_or_else(|| {
                GatewayError::bad_request(format!("unknown query parameter '{key}'"))
            })?;
            if route.template.variables().any(|v| v == field.name())
                || route.body == BodyRule::Whole
            {
                return Err(GatewayError::bad_request(format!(
                    "'{key}' cannot be a query parameter here"
                )));
            }
            set_scalar(&mut message, &field, &value)?;
        }
    }
    for (name, value) in bound {
        let field = input.get_field_by_name(name).ok_or_else(|| {
            GatewayError::internal(format!("path variable {name} is not a field"))
        })?;
        set_scalar(&mut message, &field, value)?;
    }
    Ok(message.encode_to_vec())
}

/// The JSON of an encoded response message of type `output`.
pub(crate) fn response(output: MessageDescriptor, bytes: &[u8]) -> Result<Vec<u8>, GatewayError> {
    let message = DynamicMessage::decode(output, bytes).map_err(|e| {
        GatewayError::internal(format!("upstream sent an undecodable message: {e}"))
    })?;
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::new(&mut out);
    message
        .serialize_with_options(
            &mut serializer,
            &SerializeOptions::new().skip_default_fields(false),
        )
        .map_err(|e| GatewayError::internal(format!("cannot write JSON: {e}")))?;
    Ok(out)
}

fn from_json(desc: MessageDescriptor, body: &[u8]) -> Result<DynamicMessage, GatewayError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let message = DynamicMessage::deserialize_with_options(
        desc,
        &mut deserializer,
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .map_err(|e| GatewayError::bad_request(format!("invalid JSON body: {e}")))?;
    deserializer
        .end()
        .map_err(|_| GatewayError::bad_request("invalid JSON body: trailing characters"))?;
    Ok(message)
}

/// A field by proto name or JSON name.
fn field_named(desc: &MessageDescriptor, key: &str) -> Option<FieldDescriptor> {
    desc.get_field_by_name(key)
        .or_else(|| desc.get_field_by_json_name(key))
}

/// Sets a scalar field (or appends to a repeated one) from its text form.
fn set_scalar(
    message: &mut DynamicMessage,
    field: &FieldDescriptor,
    text: &str,
) -> Result<(), GatewayError> {
    let bad = || {
        GatewayError::bad_request(format!(
            "'{}' is not a valid value for {}",
            text,
            field.json_name()
        ))
    };
    let value = match field.kind() {
        Kind::String => Value::String(text.to_owned()),
        Kind::Bool => Value::Bool(text.parse().map_err(|_| bad())?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(text.parse().map_err(|_| bad())?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(text.parse().map_err(|_| bad())?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(text.parse().map_err(|_| bad())?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(text.parse().map_err(|_| bad())?),
        Kind::Double => Value::F64(text.parse().map_err(|_| bad())?),
        Kind::Float => Value::F32(text.parse().map_err(|_| bad())?),
        Kind::Enum(e) => {
            let v = e.get_value_by_name(text).ok_or_else(bad)?;
            Value::EnumNumber(v.number())
        }
        Kind::Bytes | Kind::Message(_) => {
            return Err(GatewayError::bad_request(format!(
                "{} cannot be set from the path or query",
                field.json_name()
            )));
        }
    };
    if field.is_list() {
        match message.get_field_mut(field) {
            Value::List(list) => list.push(value),
            _ => return Err(bad()),
        }
    } else {
        message.set_field(field, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use http::Method;
    use prost_reflect::DescriptorPool;

    use super::*;
    use crate::routes::{Lookup, RouteTable};

    fn encode(
        method: Method,
        path: &str,
        query: Option<&str>,
        body: &str,
    ) -> Result<DynamicMessage, GatewayError> {
        let pool = DescriptorPool::decode(mesh_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
        let table = RouteTable::from_pool(&pool).expect("routes");
        let Lookup::Found(route, bound) = table.lookup(&method, path) else {
            panic!("no route for {path}");
        };
        let bytes = request(route, &bound, query, body.as_bytes())?;
        Ok(DynamicMessage::decode(route.input(), bytes.as_slice()).expect("decodes"))
    }

    #[test]
    fn path_query_and_body_fill_the_request() {
        let m = encode(
            Method::POST,
            "/v1/accounts/a-1:deposit",
            None,
            r#"{"amountMinor":"500","currency":"EUR","idempotency_key":"k"}"#,
        )
        .expect("valid");
        assert_eq!(
            m.get_field_by_name("account_id").expect("field").as_str(),
            Some("a-1")
        );
        assert_eq!(
            m.get_field_by_name("amount_minor").expect("field").as_i64(),
            Some(500)
        );
        let m = encode(
            Method::GET,
            "/v1/accounts",
            Some("pageSize=5&owner=bob"),
            "",
        )
        .expect("valid");
        assert_eq!(
            m.get_field_by_name("page_size").expect("field").as_i32(),
            Some(5)
        );
        assert_eq!(
            m.get_field_by_name("owner").expect("field").as_str(),
            Some("bob")
        );
    }

    #[test]
    fn bad_input_is_a_clear_400() {
        for (method, path, query, body) in [
            (Method::POST, "/v1/orders", None, "{"),
            (Method::POST, "/v1/orders", None, r#"{"unknownField":1}"#),
            (
                Method::POST,
                "/v1/orders",
                None,
                r#"{"items":"not a list"}"#,
            ),
            (
                Method::POST,
                "/v1/orders",
                None,
                r#"{"currency":"EUR"} trailing"#,
            ),
            (Method::GET, "/v1/orders", Some("pageSize=ten"), ""),
            (Method::GET, "/v1/orders", Some("nope=1"), ""),
            (Method::GET, "/v1/orders/o-1", None, r#"{"x":1}"#),
        ] {
            let error = encode(method, path, query, body).expect_err("must be refused");
            assert_eq!(
                error.status,
                http::StatusCode::BAD_REQUEST,
                "{path} {query:?} {body}: {error:?}"
            );
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let error = encode(
            Method::POST,
            "/v1/orders",
            None,
            &format!(r#"{{"items":{deep}}}"#),
        )
        .expect_err("too deep");
        assert_eq!(error.status, http::StatusCode::BAD_REQUEST);
    }
}
