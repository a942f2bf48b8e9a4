"""A gRPC client we did not write (grpcio) calling the mesh through the gateway.

Usage: grpc_client.py HOST:PORT CA_FILE TOKEN ORDER_ID

Calls orders.v1.Orders/GetOrder over TLS with a bearer token, using
grpcio's generic unary call (no generated code): the request is the
protobuf encoding of GetOrderRequest{order_id}; the reply must be an Order
whose field 1 is that id. Also checks that a call without a token is
refused with UNAUTHENTICATED. Exits non-zero on any failure.
"""

import sys

import grpc


def encode_string_field(number: int, value: str) -> bytes:
    data = value.encode()
    assert len(data) < 128
    return bytes([(number << 3) | 2, len(data)]) + data


def first_string_field(message: bytes) -> str:
    # Field 1, wire type 2 (length-delimited), short length.
    assert message[0] == (1 << 3) | 2, message[:4]
    return message[2 : 2 + message[1]].decode()


def main() -> int:
    target, ca_file, token, order_id = sys.argv[1:5]
    with open(ca_file, "rb") as f:
        credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
    options = (("grpc.ssl_target_name_override", "localhost"),)
    with grpc.secure_channel(target, credentials, options=options) as channel:
        get_order = channel.unary_unary(
            "/orders.v1.Orders/GetOrder",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        reply = get_order(
            encode_string_field(1, order_id),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=10,
        )
        got = first_string_field(reply)
        if got != order_id:
            print(f"expected order {order_id}, got {got}", file=sys.stderr)
            return 1
        try:
            get_order(encode_string_field(1, order_id), timeout=10)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNAUTHENTICATED:
                print(f"without a token: {error.code()}", file=sys.stderr)
                return 1
        else:
            print("a call without a token was served", file=sys.stderr)
            return 1
    print(f"grpcio {grpc.__version__}: GetOrder {order_id} through the gateway OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
