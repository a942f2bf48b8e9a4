//! The request body `h2load` sends: one gRPC length-prefixed message.
//!
//! h2load knows nothing of gRPC, but a unary gRPC call is an HTTP/2 POST
//! whose body is a 5-byte prefix (compressed flag, big-endian length) and
//! the protobuf message, so a file holding that frame is enough.

use mesh_proto::accounts::v1::GetAccountRequest;
use prost::Message;

/// A gRPC frame holding `GetAccountRequest { account_id }`, uncompressed.
pub fn get_account(account_id: &str) -> Vec<u8> {
    let message = GetAccountRequest {
        account_id: account_id.to_owned(),
    }
    .encode_to_vec();
    let length = u32::try_from(message.len()).expect("a request id is far below 4 GiB");
    let mut frame = Vec::with_capacity(5 + message.len());
    frame.push(0); // not compressed
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&message);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_is_prefix_then_message() {
        let frame = get_account(crate::BENCH_ACCOUNT_ID);
        assert_eq!(frame[0], 0, "uncompressed");
        let length = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
        assert_eq!(length, frame.len() - 5);
        let decoded = GetAccountRequest::decode(&frame[5..]).expect("protobuf");
        assert_eq!(decoded.account_id, crate::BENCH_ACCOUNT_ID);
    }
}
