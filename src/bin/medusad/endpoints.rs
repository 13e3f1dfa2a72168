//! From checked endpoints (`config::EndpointSpec`) to the handlers that
//! serve them: a registry per endpoint (the demo's methods, programs',
//! remotes'), its XML-RPC settings and its credentials. Used at startup
//! and again by a reload, which swaps the new handlers in for the old.

use medusa::handlers::{AuthHandler, XmlRpcConfig, XmlRpcHandler};
use medusa::http::Handler;
use medusa::reactor::AddDispatcher;
use medusa::xmlrpc::{Registry, Remote};

use std::collections::HashMap;
use std::io;

use crate::config::EndpointSpec;
use crate::demo::demo_service;
use crate::options::Options;

/// What endpoints take from the server's settings unless they set their
/// own: kept by the reloader, which builds endpoints again later.
#[derive(Clone)]
pub struct Defaults {
    users: HashMap<String, String>,
    public: Vec<String>,
    xmlrpc: XmlRpcConfig,
}

impl Defaults {
    pub fn new(options: &Options) -> Defaults {
        Defaults {
            users: options.users.clone(),
            public: options.public.clone(),
            xmlrpc: options.xmlrpc.clone(),
        }
    }
}

/// The handlers for `endpoints`, one each, in order: the first match wins,
/// and no two endpoints share a path (the config check made sure). Their
/// remotes' clients live on `reactor`'s loop.
pub fn build(
    endpoints: &[EndpointSpec],
    defaults: &Defaults,
    reactor: &mut impl AddDispatcher,
) -> io::Result<Vec<Box<dyn Handler>>> {
    endpoints
        .iter()
        .map(|endpoint| build_one(endpoint, defaults, reactor))
        .collect()
}

fn build_one(
    endpoint: &EndpointSpec,
    options: &Defaults,
    reactor: &mut impl AddDispatcher,
) -> io::Result<Box<dyn Handler>> {
    let mut registry = match endpoint.demo {
        true => demo_service(),
        false => Registry::new(),
    };
    for method in &endpoint.methods {
        registry.register_program(&method.name, method.program.clone());
    }
    for spec in &endpoint.remotes {
        let remote = Remote::new(reactor, &spec.url, spec.config.clone()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("remote {} ({}): {e}", spec.prefix, spec.shown),
            )
        })?;
        registry.mount(&spec.prefix, remote);
    }
    let paths: Vec<&str> = endpoint.paths.iter().map(String::as_str).collect();
    let handler = XmlRpcHandler::with_paths(&paths, registry, xmlrpc_config(endpoint, options));
    // Its own users replace the server's; `public` opts out of them.
    Ok(if !endpoint.users.is_empty() {
        Box::new(AuthHandler::new("medusad", endpoint.users.clone(), handler))
    } else if endpoint.public || options.users.is_empty() {
        Box::new(handler)
    } else {
        Box::new(
            AuthHandler::new("medusad", options.users.clone(), handler)
                .with_public(&options.public),
        )
    })
}

/// The server's XML-RPC settings with the endpoint's own over them.
fn xmlrpc_config(endpoint: &EndpointSpec, options: &Defaults) -> XmlRpcConfig {
    let mut config = options.xmlrpc.clone();
    if let Some(depth) = endpoint.max_depth {
        config.decode.max_depth = depth;
    }
    if let Some(threshold) = endpoint.gzip_threshold {
        config.gzip_threshold = threshold;
    }
    if let Some(strict) = endpoint.no_extensions {
        config.encode.nil = !strict;
        config.encode.i8 = !strict;
    }
    config.max_body_bytes = endpoint.max_body_bytes;
    config
}

/// Every path the endpoints serve, for the startup lines and `/`.
pub fn paths(endpoints: &[EndpointSpec]) -> Vec<String> {
    endpoints
        .iter()
        .flat_map(|e| e.paths.iter().cloned())
        .collect()
}
