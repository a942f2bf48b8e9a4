//! One request of each scenario, built to cost the client little: request
//! bodies are encoded once (an order only appends its idempotency key),
//! gRPC messages go through a pass-through codec and replies are not
//! decoded unless they must be checked (an order must come back paid).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::uri::PathAndQuery;
use mesh_proto::{
    accounts::v1::GetAccountRequest,
    orders::v1::{CreateOrderRequest, Order, OrderItem, OrderStatus},
};
use prost::Message;
use tonic::{
    Code,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    metadata::{Ascii, MetadataValue},
    transport::Channel,
};

use super::{
    abuse::Abuse,
    engine::Call,
    outcome::{Kind, Outcome, Status},
    rest::RestCall,
    tokens::Tokens,
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

    /// The encoded request with key `seq` (protobuf fields may come in any order).
    pub(crate) fn grpc(&self, seq: u64) -> Bytes {
        let key = self.key(seq);
        let mut buf = BytesMut::with_capacity(self.grpc.len() + key.len() + 2);
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
    /// The same message every time (GetAccount).
    Fixed(Bytes),
    /// A new order each time.
    Order(OrderTemplate),
}

impl GrpcBody {
    pub(crate) fn get_account(account_id: &str) -> Self {
        Self::Fixed(
            GetAccountRequest {
                account_id: account_id.to_owned(),
            }
            .encode_to_vec()
            .into(),
        )
    }
}

/// A unary gRPC call over a few channels.
#[derive(Debug)]
pub(crate) struct GrpcCall {
    pub(crate) channels: Vec<Channel>,
    pub(crate) path: PathAndQuery,
    pub(crate) body: GrpcBody,
    /// None: send no token at all.
    pub(crate) tokens: Option<Tokens>,
}

impl GrpcCall {
    /// Calls once on worker `worker`'s channel, with `bearer` instead of
    /// the current token if given.
    pub(crate) async fn call(
        &self,
        worker: usize,
        seq: u64,
        bearer: Option<&MetadataValue<Ascii>>,
    ) -> Status {
        let channel = self.channels[worker % self.channels.len()].clone();
        let mut grpc = tonic::client::Grpc::new(channel);
        let (body, order) = match &self.body {
            GrpcBody::Fixed(bytes) => (bytes.clone(), false),
            GrpcBody::Order(template) => (template.grpc(seq), true),
        };
        let mut request = tonic::Request::new(body);
        let token = match (bearer, &self.tokens) {
            (Some(bearer), _) => Some(bearer.clone()),
            (None, Some(tokens)) => Some(tokens.current().grpc.clone()),
            (None, None) => None,
        };
        if let Some(token) = token {
            request.metadata_mut().insert("authorization", token);
        }
        if grpc.ready().await.is_err() {
            return Status::Connection;
        }
        match grpc
            .unary(request, self.path.clone(), RawCodec { keep: order })
            .await
        {
            Ok(reply) if order => match Order::decode(reply.into_inner()) {
                Ok(o) if o.status == OrderStatus::Paid as i32 => Status::Grpc(Code::Ok),
                _ => Status::NotPaid,
            },
            Ok(_) => Status::Grpc(Code::Ok),
            Err(status) => Status::Grpc(status.code()),
        }
    }
}

/// Encoded messages in; replies kept as bytes only when `keep`.
#[derive(Debug, Clone, Copy)]
struct RawCodec {
    keep: bool,
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        *self
    }

    fn decoder(&mut self) -> Self {
        *self
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        let len = src.remaining();
        Ok(Some(if self.keep {
            src.copy_to_bytes(len)
        } else {
            src.advance(len);
            Bytes::new()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_carry_a_unique_key_in_both_encodings() {
        let template = OrderTemplate::new("acc-1", "r1");
        let decoded = CreateOrderRequest::decode(template.grpc(7)).expect("protobuf");
        assert_eq!(decoded.idempotency_key, "load-r1-7");
        assert_eq!(decoded.account_id, "acc-1");
        assert_eq!(decoded.items[0].unit_price_minor, ORDER_PRICE_MINOR);
        let json: serde_json::Value = serde_json::from_slice(&template.json(8)).expect("JSON body");
        assert_eq!(json["idempotencyKey"], "load-r1-8");
        assert_eq!(json["accountId"], "acc-1");
        assert_eq!(json["items"][0]["unitPriceMinor"], "1");
    }
}
