//! add(i32, i32) and echo(value) at /RPC2 on dxr_server's axum server, one
//! thread (tokio current_thread), for benches/load/peers.py. Usage: dxr_peer PORT
use dxr::{Fault, TryFromParams, TryToValue, Value};
use dxr_server::{axum::http::HeaderMap, HandlerFn, HandlerResult, RouteBuilder, Server};

fn add(params: &[Value], _: HeaderMap) -> HandlerResult {
    let (a, b) = <(i32, i32)>::try_from_params(params)?;
    Ok(a.wrapping_add(b).try_to_value()?)
}

// Echo as dxr's Value, so strings, structs and base64 all come back as sent.
fn echo(params: &[Value], _: HeaderMap) -> HandlerResult {
    match params {
        [value] => Ok(value.clone()),
        _ => Err(Fault::new(400, "echo takes one value".into())),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: dxr_peer PORT");
    let route = RouteBuilder::new()
        .set_path("/RPC2")
        .add_method("add", Box::new(add as HandlerFn))
        .add_method("echo", Box::new(echo as HandlerFn))
        .build();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    if let Err(e) = Server::from_route(route).serve(addr).await {
        eprintln!("dxr_peer: {e}");
        std::process::exit(1);
    }
}
