//! One request of each scenario, built to cost the client little: request
//! bodies are encoded once (an order only appends its idempotency key),
//! gRPC ones with their length prefix, and sent as they are (see [`grpc`](super::grpc)).

use bytes::{BufMut, Bytes, BytesMut};
use mesh_proto::{
    accounts::v1::GetAccountRequest,
    orders::v1::{CreateOrderRequest, OrderItem},
};
use prost::Message;

use super::{
    abuse::Abuse,
    engine::Call,
    grpc::{GrpcCall, PREFIX},
    outcome::{Kind, Outcome},
    rest::RestCall,
};

pub(crate) const GET_ACCOUNT: &str = "/accounts.v1.Accounts/GetAccount";
pub(crate) const CREATE_ORDER: &str = "/orders.v1.Orders/CreateOrder";

/// What every worker sends.
#[derive(Debug)]
pub(crate) enum Target {
    Grpc(GrpcCall),
    Rest(RestCall),
    Abuse(Abuse),
}

impl Call for Target {
    async fn call(&self, worker: usize, seq: u64) -> Outcome {
        match self {
            Self::Grpc(grpc) => Outcome::new(Kind::Request, grpc.call(worker, seq, None).await),
            Self::Rest(rest) => Outcome::new(Kind::Request, rest.call(worker, seq).await),
            Self::Abuse(abuse) => abuse.call(worker, seq).await,
        }
    }
}

/// The order every order scenario places: one item of one minor unit, so
/// a modest deposit pays for a long run.
#[derive(Debug, Clone)]
pub(crate) struct OrderTemplate {
    /// The encoded request without its idempotency key.
    grpc: Bytes,
    /// The JSON body up to the idempotency key's value.
    json: String,
    /// Makes keys unique across runs.
    run: String,
}

/// The price of one order, in minor units.
pub(crate) const ORDER_PRICE_MINOR: i64 = 1;

impl OrderTemplate {
    pub(crate) fn new(account_id: &str, run: &str) -> Self {
        let request = CreateOrderRequest {
            account_id: account_id.to_owned(),
            items: vec![OrderItem {
                sku: "load-test".to_owned(),
                quantity: 1,
                unit_price_minor: ORDER_PRICE_MINOR,
            }],
            currency: "EUR".to_owned(),
            idempotency_key: String::new(),
        };
        let json = serde_json::json!({
            "accountId": account_id,
            "currency": "EUR",
            "items": [{"sku": "load-test", "quantity": 1, "unitPriceMinor": ORDER_PRICE_MINOR.to_string()}],
        })
        .to_string();
        Self {
            grpc: request.encode_to_vec().into(),
            // `{...}` becomes `{...,"idempotencyKey":"` + key + `"}`.
            json: format!("{},\"idempotencyKey\":\"", &json[..json.len() - 1]),
            run: run.to_owned(),
        }
    }

    fn key(&self, seq: u64) -> String {
        format!("load-{}-{seq}", self.run)
    }

    /// The length-prefixed request with key `seq` (protobuf fields may
    /// come in any order).
    pub(crate) fn grpc(&self, seq: u64) -> Bytes {
        let key = self.key(seq);
        let len = self.grpc.len() + prost::encoding::string::encoded_len(4, &key);
        let mut buf = BytesMut::with_capacity(PREFIX + len);
        put_prefix(&mut buf, len);
        buf.put_slice(&self.grpc);
        prost::encoding::string::encode(4, &key, &mut buf);
        buf.freeze()
    }

    /// The JSON body with key `seq`.
    pub(crate) fn json(&self, seq: u64) -> Bytes {
        let mut body = String::with_capacity(self.json.len() + 48);
        body.push_str(&self.json);
        body.push_str(&self.key(seq));
        body.push_str("\"}");
        body.into()
    }
}

/// What a gRPC call sends.
#[derive(Debug, Clone)]
pub(crate) enum GrpcBody {
    /// The same message every time (GetAccount), length-prefixed.
    Fixed(Bytes),
    /// A new order each time.
    Order(OrderTemplate),
}

impl GrpcBody {
    pub(crate) fn get_account(account_id: &str) -> Self {
        let request = GetAccountRequest {
            account_id: account_id.to_owned(),
        };
        let len = request.encoded_len();
        let mut buf = BytesMut::with_capacity(PREFIX + len);
        put_prefix(&mut buf, len);
        request
            .encode(&mut buf)
            .expect("the buffer has room for the message");
        Self::Fixed(buf.freeze())
    }
}

/// A gRPC message's prefix: not compressed, `len` bytes long.
fn put_prefix(buf: &mut BytesMut, len: usize) {
    buf.put_u8(0);
    buf.put_u32(u32::try_from(len).expect("a request is far below 4 GiB"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_carry_a_unique_key_in_both_encodings() {
        let template = OrderTemplate::new("acc-1", "r1");
        let framed = template.grpc(7);
        let len = u32::from_be_bytes(framed[1..PREFIX].try_into().expect("a prefix"));
        assert_eq!((framed[0], len as usize), (0, framed.len() - PREFIX));
        let decoded = CreateOrderRequest::decode(&framed[PREFIX..]).expect("protobuf");
        assert_eq!(decoded.idempotency_key, "load-r1-7");
        assert_eq!(decoded.account_id, "acc-1");
        assert_eq!(decoded.items[0].unit_price_minor, ORDER_PRICE_MINOR);
        let json: serde_json::Value = serde_json::from_slice(&template.json(8)).expect("JSON body");
        assert_eq!(json["idempotencyKey"], "load-r1-8");
        assert_eq!(json["accountId"], "acc-1");
        assert_eq!(json["items"][0]["unitPriceMinor"], "1");
    }
}
