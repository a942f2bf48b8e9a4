"""gRPC tools' view of the gateway: server reflection and health, driven by
grpcio's own reflection and health-checking clients.

Usage: reflect_client.py HOST:PORT CA_FILE TOKEN ORDER_ID

Checks, exiting non-zero on the first failure:
- grpc.health.v1: the edge ("") and orders.v1.Orders are SERVING;
- reflection (v1alpha through grpcio-reflection's descriptor database, and
  v1 by hand with the same messages): the public services are listed and
  nothing else; internal RPCs (Debit, Credit, Charge) and auth's services
  are not described at all;
- a method found by reflection alone (orders.v1.Orders/GetOrder) is called
  with a request built from the reflected descriptor, and answers the order.
"""

import sys

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

PUBLIC = ["accounts.v1.Accounts", "orders.v1.Orders", "payments.v1.Payments"]
INTERNAL_METHODS = {"Debit", "Credit", "Charge"}


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def list_services_v1(channel: grpc.Channel) -> list:
    """ListServices over grpc.reflection.v1 (same messages as v1alpha)."""
    call = channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    replies = list(call(iter([request]), timeout=10))
    return sorted(s.name for s in replies[0].list_services_response.service)


def main() -> int:
    target, ca_file, token, order_id = sys.argv[1:5]
    with open(ca_file, "rb") as f:
        credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
    options = (("grpc.ssl_target_name_override", "localhost"),)
    with grpc.secure_channel(target, credentials, options=options) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ["", "orders.v1.Orders"]:
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            if reply.status != health_pb2.HealthCheckResponse.SERVING:
                return fail(f"health of {service!r}: {reply.status}")

        database = ProtoReflectionDescriptorDatabase(channel)
        services = sorted(database.get_services())
        if services != PUBLIC:
            return fail(f"v1alpha lists {services}, expected {PUBLIC}")
        if list_services_v1(channel) != PUBLIC:
            return fail(f"v1 lists {list_services_v1(channel)}, expected {PUBLIC}")

        pool = DescriptorPool(database)
        for name in PUBLIC:
            methods = {m.name for m in pool.FindServiceByName(name).methods}
            leaked = methods & INTERNAL_METHODS
            if leaked:
                return fail(f"{name} describes internal RPCs {sorted(leaked)}")
            if not methods:
                return fail(f"{name} has no methods")
        orders = pool.FindServiceByName("orders.v1.Orders")
        method = orders.methods_by_name["GetOrder"]
        request_class = GetMessageClass(method.input_type)
        reply_class = GetMessageClass(method.output_type)
        get_order = channel.unary_unary(
            f"/{orders.full_name}/{method.name}",
            request_serializer=request_class.SerializeToString,
            response_deserializer=reply_class.FromString,
        )
        order = get_order(
            request_class(order_id=order_id),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=10,
        )
        if order.order_id != order_id:
            return fail(f"GetOrder found by reflection answered {order}")

        # Internal services are unknown symbols. (tonic's reflection ends the
        # stream with NOT_FOUND where grpc-go answers an error_response, so
        # each lookup gets a stream of its own.)
        for symbol in ["auth.v1.Auth", "auth.v1.WorkloadTokens"]:
            try:
                DescriptorPool(ProtoReflectionDescriptorDatabase(channel)).FindServiceByName(symbol)
                return fail(f"{symbol} is described")
            except KeyError:
                pass
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND:
                    return fail(f"looking up {symbol}: {error}")
    print("reflection and health: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
