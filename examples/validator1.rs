//! The XML-RPC validator suite, "validator1": the eight methods Userland's
//! validator (validator.xmlrpc.com) called to certify an implementation,
//! served from a [`Registry`] with help text and signatures.
//!
//! ```text
//! cargo run --example validator1 -- --port 8182
//! python3 -c 'import xmlrpc.client as x
//! s = x.ServerProxy("http://127.0.0.1:8182/RPC2")
//! print(s.validator1.simpleStructReturnTest(7))
//! print(s.system.methodHelp("validator1.nestedStructTest"))'
//! ```
//!
//! Where `examples/xmlrpc_server.rs` takes its parameters apart by hand
//! (the recipe's `call` override), this example shows the typed way: each
//! method is a plain Rust function whose parameters and result are
//! converted by serde, so a `<struct>` arrives as a `#[derive(Deserialize)]`
//! struct and a `#[derive(Serialize)]` struct goes back as one. A parameter
//! of the wrong type or count is a -32602 fault naming it, without a line
//! of checking here.
//!
//! Sums and products are checked: a result that does not fit in an `<int>`
//! is a -32500 fault rather than a wrapped number (the validator never sends
//! such input).
//!
//! Ctrl-C (SIGINT) or SIGTERM stops accepting, lets calls in flight finish,
//! and exits 0; if it has to drop connections to stop (a second signal, or
//! `--grace` over), it logs "forced shutdown" and exits 1.

#[path = "common/args.rs"]
mod args;
#[path = "common/shutdown.rs"]
mod shutdown;

use std::collections::BTreeMap;

use std::process::ExitCode;

use medusa::handlers::XmlRpcHandler;
use medusa::http::{HttpConfig, HttpServer};
use medusa::reactor::Reactor;
use medusa::xmlrpc::{from_value, Bytes, DateTime, Fault, Registry, Value};
use serde::{Deserialize, Serialize};

/// The three members most validator structs carry. Other members are
/// ignored (serde's default), as the spec allows "at least" these.
#[derive(Deserialize)]
struct Stooges {
    moe: i32,
    larry: i32,
    curly: i32,
}

/// An element of `arrayOfStructsTest`'s array: only `curly` is needed.
#[derive(Deserialize)]
struct Curly {
    curly: i32,
}

/// `countTheEntities`' answer; serde renames the fields to the spec's
/// camelCase member names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntityCounts {
    ct_left_angle_brackets: i32,
    ct_right_angle_brackets: i32,
    ct_ampersands: i32,
    ct_apostrophes: i32,
    ct_quotes: i32,
}

/// `simpleStructReturnTest`'s answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Multiples {
    times10: i32,
    times100: i32,
    times1000: i32,
}

/// Year → month → day → that day's entry, with zero-padded string keys
/// (`"2000"`, `"04"`, `"01"`). Entries stay `Value`s: only one of them has
/// to be a [`Stooges`].
type Calendar = BTreeMap<String, BTreeMap<String, BTreeMap<String, Value>>>;

/// Adds `values`, or faults if the sum leaves the `<int>` range.
fn checked_sum(values: impl IntoIterator<Item = i32>) -> Result<i32, Fault> {
    values
        .into_iter()
        .try_fold(0i32, i32::checked_add)
        .ok_or_else(|| Fault::application_error("the sum does not fit in a 32-bit int"))
}

/// The sum of `curly` over an array of structs.
fn array_of_structs_test(structs: Vec<Curly>) -> Result<i32, Fault> {
    checked_sum(structs.into_iter().map(|s| s.curly))
}

/// How many of each character XML escapes as an entity `text` contains.
fn count_the_entities(text: String) -> EntityCounts {
    // A request is at most `DecodeLimits::max_size` (10 MiB) long, so a
    // count always fits; saturating keeps the function total anyway.
    let count = |c: char| i32::try_from(text.matches(c).count()).unwrap_or(i32::MAX);
    EntityCounts {
        ct_left_angle_brackets: count('<'),
        ct_right_angle_brackets: count('>'),
        ct_ampersands: count('&'),
        ct_apostrophes: count('\''),
        ct_quotes: count('"'),
    }
}

/// `moe + larry + curly`.
fn easy_struct_test(stooges: Stooges) -> Result<i32, Fault> {
    checked_sum([stooges.moe, stooges.larry, stooges.curly])
}

/// The struct, unchanged (whatever its members hold).
fn echo_struct_test(members: BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    members
}

/// Its six parameters, one of each scalar type, as an array.
fn many_types_test(
    number: i32,
    boolean: bool,
    string: String,
    double: f64,
    date: DateTime,
    bytes: Bytes,
) -> (i32, bool, String, f64, DateTime, Bytes) {
    (number, boolean, string, double, date, bytes)
}

/// The first and the last string of the array, concatenated.
fn moderate_size_array_check(strings: Vec<String>) -> Result<String, Fault> {
    match (strings.first(), strings.last()) {
        (Some(first), Some(last)) => Ok(format!("{first}{last}")),
        _ => Err(Fault::invalid_params("the array is empty")),
    }
}

/// `moe + larry + curly` of the calendar's entry for April 1st, 2000.
fn nested_struct_test(mut calendar: Calendar) -> Result<i32, Fault> {
    let day = calendar
        .remove("2000")
        .and_then(|mut year| year.remove("04"))
        .and_then(|mut month| month.remove("01"))
        .ok_or_else(|| Fault::invalid_params("the calendar has no entry for 2000-04-01"))?;
    let stooges: Stooges = from_value(day)
        .map_err(|e| Fault::invalid_params(format!("the entry for 2000-04-01: {e}")))?;
    easy_struct_test(stooges)
}

/// The number times 10, 100 and 1000.
fn simple_struct_return_test(number: i32) -> Result<Multiples, Fault> {
    let times = |factor: i32| {
        number
            .checked_mul(factor)
            .ok_or_else(|| Fault::application_error(format!("{number} * {factor} overflows")))
    };
    Ok(Multiples {
        times10: times(10)?,
        times100: times(100)?,
        times1000: times(1000)?,
    })
}

/// The eight validator1 methods, with help and signatures for
/// `system.methodHelp` / `system.methodSignature`.
fn validator1() -> Registry {
    let mut registry = Registry::new();
    registry
        .register("validator1.arrayOfStructsTest", array_of_structs_test)
        .help(
            "Takes an array of structs, each with a member named curly (an int); \
             returns the sum of the curly members.",
        )
        .signature(&["int", "array"]);
    registry
        .register("validator1.countTheEntities", count_the_entities)
        .help(
            "Takes a string; returns a struct counting its characters that XML writes \
             as entities: ctLeftAngleBrackets, ctRightAngleBrackets, ctAmpersands, \
             ctApostrophes, ctQuotes.",
        )
        .signature(&["struct", "string"]);
    registry
        .register("validator1.easyStructTest", easy_struct_test)
        .help("Takes a struct with int members moe, larry and curly; returns their sum.")
        .signature(&["int", "struct"]);
    registry
        .register("validator1.echoStructTest", echo_struct_test)
        .help("Takes a struct; returns it unchanged.")
        .signature(&["struct", "struct"]);
    registry
        .register("validator1.manyTypesTest", many_types_test)
        .help(
            "Takes an int, a boolean, a string, a double, a dateTime.iso8601 and a \
             base64; returns them as an array.",
        )
        .signature(&[
            "array",
            "int",
            "boolean",
            "string",
            "double",
            "dateTime.iso8601",
            "base64",
        ]);
    registry
        .register(
            "validator1.moderateSizeArrayCheck",
            moderate_size_array_check,
        )
        .help("Takes an array of strings; returns the first and the last concatenated.")
        .signature(&["string", "array"]);
    registry
        .register("validator1.nestedStructTest", nested_struct_test)
        .help(
            "Takes a calendar: a struct of years, each a struct of months, each a struct \
             of days (keys zero-padded: \"2000\", \"04\", \"01\"); returns the sum of moe, \
             larry and curly in the entry for April 1st, 2000.",
        )
        .signature(&["int", "struct"]);
    registry
        .register(
            "validator1.simpleStructReturnTest",
            simple_struct_return_test,
        )
        .help("Takes an int; returns a struct with members times10, times100 and times1000.")
        .signature(&["struct", "int"]);
    registry
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let (addr, grace) = args::server_options("validator1", 8182);

    shutdown::main_exit("validator1", || {
        let mut reactor = Reactor::new()?;
        // Before announcing the address: from then on a SIGTERM must mean a
        // graceful shutdown, not the default action (death).
        reactor.catch_signals(grace)?;
        let server = HttpServer::bind(addr, HttpConfig::default())?;
        server.install_handler(XmlRpcHandler::new("/RPC2", validator1()));
        let local = server.local_addr()?;
        log::info!("validator1 listening on {local}");
        log::info!("POST XML-RPC calls to http://{local}/RPC2 (GET it for the method list)");
        reactor.add(server)?;
        shutdown::run_to_exit("validator1", &mut reactor)
    })
}
