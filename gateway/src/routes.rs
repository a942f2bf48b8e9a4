//! The REST route table, read from the `google.api.http` annotations in the
//! descriptor set: adding an annotated RPC to a proto makes it reachable
//! without gateway code. RPCs without an annotation are internal and have
//! no route, over REST or gRPC.

mod template;

use std::collections::HashMap;

use http::Method;
use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor, Value};

pub(crate) use template::PathTemplate;

/// What the HTTP body maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyRule {
    /// No body.
    None,
    /// The whole request message (`body: "*"`), minus path variables.
    Whole,
    /// One field of the request message.
    Field(String),
}

/// One public RPC and its REST binding.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) method: Method,
    pub(crate) template: PathTemplate,
    pub(crate) body: BodyRule,
    /// The gRPC path, `/package.Service/Method`.
    pub(crate) grpc_path: String,
    /// The workload serving it (`accounts` for `accounts.v1.Accounts`).
    pub(crate) workload: String,
    pub(crate) rpc: MethodDescriptor,
}

impl Route {
    /// The request message type.
    pub(crate) fn input(&self) -> MessageDescriptor {
        self.rpc.input()
    }

    /// The response message type.
    pub(crate) fn output(&self) -> MessageDescriptor {
        self.rpc.output()
    }
}

/// Every public RPC: by REST binding, and by gRPC path.
#[derive(Debug, Clone)]
pub(crate) struct RouteTable {
    routes: Vec<Route>,
    by_grpc_path: HashMap<String, usize>,
}

/// The result of looking up a REST request.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    Found(&'a Route, Vec<(String, String)>),
    /// The path exists with other methods.
    MethodNotAllowed(Vec<Method>),
    NotFound,
}

impl RouteTable {
    /// The routes of the descriptor set built into `mesh-proto`.
    pub(crate) fn embedded() -> Result<Self, String> {
        let pool = DescriptorPool::decode(mesh_proto::FILE_DESCRIPTOR_SET)
            .map_err(|e| format!("the embedded descriptor set is unreadable: {e}"))?;
        Self::from_pool(&pool)
    }

    /// Reads the annotations of every service in `pool`. The workload of a
    /// service is the first component of its package (`orders.v1` → `orders`).
    pub(crate) fn from_pool(pool: &DescriptorPool) -> Result<Self, String> {
        let http = pool
            .get_extension_by_name("google.api.http")
            .ok_or("the descriptor set lacks google.api.http")?;
        let mut routes = Vec::new();
        for service in pool.services() {
            let workload = service
                .package_name()
                .split('.')
                .next()
                .unwrap_or_default()
                .to_owned();
            for rpc in service.methods() {
                let options = rpc.options();
                if !options.has_extension(&http) {
                    continue;
                }
                let Value::Message(rule) = options.get_extension(&http).into_owned() else {
                    return Err(format!(
                        "{}: google.api.http is not a message",
                        rpc.full_name()
                    ));
                };
                let (method, template) = ["get", "put", "post", "delete", "patch"]
                    .into_iter()
                    .find_map(|verb| {
                        let value = rule.get_field_by_name(verb)?;
                        let path = value.as_str()?;
                        (!path.is_empty()).then(|| (verb.to_uppercase(), path.to_owned()))
                    })
                    .ok_or_else(|| {
                        format!("{}: HTTP rule without a supported verb", rpc.full_name())
                    })?;
                let body = match rule
                    .get_field_by_name("body")
                    .as_deref()
                    .and_then(Value::as_str)
                {
                    None | Some("") => BodyRule::None,
                    Some("*") => BodyRule::Whole,
                    Some(field) => BodyRule::Field(field.to_owned()),
                };
                let template = PathTemplate::parse(&template)
                    .map_err(|e| format!("{}: {e}", rpc.full_name()))?;
                for var in template.variables() {
                    if rpc.input().get_field_by_name(var).is_none() {
                        return Err(format!(
                            "{}: path variable {var} is not a field",
                            rpc.full_name()
                        ));
                    }
                }
                routes.push(Route {
                    method: method.parse().map_err(|_| format!("bad verb {method}"))?,
                    template,
                    body,
                    grpc_path: format!("/{}/{}", service.full_name(), rpc.name()),
                    workload: workload.clone(),
                    rpc,
                });
            }
        }
        let by_grpc_path = routes
            .iter()
            .enumerate()
            .map(|(i, r)| (r.grpc_path.clone(), i))
            .collect();
        Ok(Self {
            routes,
            by_grpc_path,
        })
    }

    /// Finds the route for a REST request.
    pub(crate) fn lookup(&self, method: &Method, path: &str) -> Lookup<'_> {
        let mut allowed = Vec::new();
        for route in &self.routes {
            if let Some(bound) = route.template.matches(path) {
                if route.method == *method {
                    return Lookup::Found(route, bound);
                }
                allowed.push(route.method.clone());
            }
        }
        if allowed.is_empty() {
            Lookup::NotFound
        } else {
            Lookup::MethodNotAllowed(allowed)
        }
    }

    /// The public RPC at a gRPC path, if it has one.
    pub(crate) fn by_grpc_path(&self, path: &str) -> Option<&Route> {
        self.by_grpc_path.get(path).map(|i| &self.routes[*i])
    }

    /// Every route.
    pub(crate) fn routes(&self) -> &[Route] {
        &self.routes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::embedded().expect("routes")
    }

    #[test]
    fn every_annotated_rpc_is_a_route_and_internal_ones_are_not() {
        let table = table();
        let paths: Vec<&str> = table
            .routes()
            .iter()
            .map(|r| r.grpc_path.as_str())
            .collect();
        for public in [
            "/orders.v1.Orders/CreateOrder",
            "/accounts.v1.Accounts/Deposit",
            "/payments.v1.Payments/Refund",
        ] {
            assert!(paths.contains(&public), "{public} missing");
        }
        for internal in [
            "/accounts.v1.Accounts/Debit",
            "/accounts.v1.Accounts/Credit",
            "/payments.v1.Payments/Charge",
        ] {
            assert!(
                table.by_grpc_path(internal).is_none(),
                "{internal} must not be routable"
            );
        }
        assert!(table.routes().iter().all(|r| r.workload != "auth"));
    }

    #[test]
    fn lookups_bind_path_variables() {
        let table = table();
        match table.lookup(&Method::POST, "/v1/orders/o-1:cancel") {
            Lookup::Found(route, bound) => {
                assert_eq!(route.grpc_path, "/orders.v1.Orders/CancelOrder");
                assert_eq!(bound, [("order_id".to_owned(), "o-1".to_owned())]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            table.lookup(&Method::DELETE, "/v1/orders"),
            Lookup::MethodNotAllowed(_)
        ));
        assert!(matches!(
            table.lookup(&Method::GET, "/v1/nothing"),
            Lookup::NotFound
        ));
    }
}
