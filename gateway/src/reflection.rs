//! What the public port tells gRPC tools about itself:
//!
//! - **server reflection**, v1 and v1alpha (grpcurl, Postman, Kreya and
//!   Evans ask for one or the other), describing exactly the public API:
//!   the services that have public RPCs, each with only its public methods
//!   (those the route table serves). Internal RPCs (`Debit`, `Charge`, …)
//!   and internal-only services (auth's) are cut out of the descriptors, so
//!   no tool lists or describes them. The message types of the proto files
//!   stay (a file is served whole), so a tool that asks for one by name,
//!   e.g. `accounts.v1.DebitRequest`, still sees its shape: a shape, never
//!   a way to call it;
//! - **`grpc.health.v1`** for the edge itself (service `""`) and for each
//!   public service, so a load balancer can health-check the door over gRPC.
//!
//! Neither needs a token: the public API describes itself openly, as
//! `/openapi.json` does, and a health check comes from machines that hold
//! no user token. Both are limited per source address like the OAuth
//! endpoints, since they cost a little work and ask for no identity.

use prost::Message;
use prost_types::FileDescriptorSet;

use crate::routes::RouteTable;

/// Path prefixes of the services answered here rather than proxied.
pub(crate) const PATHS: &[&str] = &[
    "/grpc.reflection.v1.ServerReflection/{method}",
    "/grpc.reflection.v1alpha.ServerReflection/{method}",
    "/grpc.health.v1.Health/{method}",
];

/// The embedded descriptor set cut down to the public API of `routes`.
pub(crate) fn public_descriptor_set(routes: &RouteTable) -> Result<Vec<u8>, String> {
    let mut set = FileDescriptorSet::decode(mesh_proto::FILE_DESCRIPTOR_SET)
        .map_err(|e| format!("the embedded descriptor set is unreadable: {e}"))?;
    for file in &mut set.file {
        let package = file.package().to_owned();
        file.service.retain_mut(|service| {
            let prefix = match package.as_str() {
                "" => format!("/{}/", service.name()),
                package => format!("/{package}.{}/", service.name()),
            };
            service.method.retain(|method| {
                routes
                    .by_grpc_path(&format!("{prefix}{}", method.name()))
                    .is_some()
            });
            !service.method.is_empty()
        });
    }
    Ok(set.encode_to_vec())
}

/// The full names of the services with public RPCs.
pub(crate) fn public_services(routes: &RouteTable) -> Vec<String> {
    let mut names: Vec<String> = routes
        .routes()
        .iter()
        .filter_map(|route| {
            let service = route.grpc_path.strip_prefix('/')?.split('/').next()?;
            Some(service.to_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The reflection (v1, v1alpha) and health services of the public port.
pub(crate) async fn services(routes: &RouteTable) -> Result<tonic::service::Routes, String> {
    let descriptors = public_descriptor_set(routes)?;
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(&descriptors)
            // The reflection service itself is no part of the API.
            .include_reflection_service(false)
    };
    let v1 = builder().build_v1().map_err(|e| e.to_string())?;
    let v1alpha = builder().build_v1alpha().map_err(|e| e.to_string())?;
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    for name in public_services(routes) {
        health
            .set_service_status(name, tonic_health::ServingStatus::Serving)
            .await;
    }
    Ok(tonic::service::Routes::new(health_service)
        .add_service(v1)
        .add_service(v1alpha))
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;

    use super::*;

    fn table() -> RouteTable {
        RouteTable::embedded().expect("routes")
    }

    #[test]
    fn only_public_services_and_methods_are_described() {
        let bytes = public_descriptor_set(&table()).expect("cut");
        let pool = DescriptorPool::decode(bytes.as_slice()).expect("still a valid set");
        let methods: Vec<String> = pool
            .services()
            .flat_map(|s| {
                s.methods()
                    .map(|m| m.full_name().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        for public in [
            "accounts.v1.Accounts.GetAccount",
            "orders.v1.Orders.CreateOrder",
            "payments.v1.Payments.Refund",
        ] {
            assert!(methods.iter().any(|m| m == public), "{public}: {methods:?}");
        }
        for internal in [
            "Debit",
            "Credit",
            "Charge",
            "ExchangeToken",
            "GetWorkloadToken",
        ] {
            assert!(
                !methods.iter().any(|m| m.ends_with(&format!(".{internal}"))),
                "{internal} is described: {methods:?}"
            );
        }
        assert!(pool.services().all(|s| !s.full_name().starts_with("auth.")));
        assert_eq!(
            public_services(&table()),
            [
                "accounts.v1.Accounts",
                "orders.v1.Orders",
                "payments.v1.Payments"
            ]
        );
    }
}
