//! `medusa-call`: call an XML-RPC server from the command line.
//!
//! ```text
//! medusa-call http://localhost:8182/RPC2 add 40 2            # 42
//! medusa-call URL echo '{"a": [1, null, {"$base64": "aGk="}]}'
//! medusa-call URL --list
//! medusa-call URL --help add
//! medusa-call URL --multicall add '[1, 2]' echo '["x"]'
//! ```
//!
//! Arguments and results are JSON, in the mapping of `docs/json.md`
//! (`null` is `<nil/>`, `{"$base64": ...}`, `{"$datetime": ...}`, ...), so
//! nested and nil values are as easy to write as numbers. It goes where
//! the library's blocking client goes: `http://`, `https://` (the
//! system's roots, or `--cacert`), `unix:///path/to/socket`.
//!
//! Exit status: 0 a result, 1 a fault (`fault CODE: STRING` on stderr), 2
//! a transport error or a bad command line.

mod introspect;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use medusa::xmlrpc::json::{from_json, to_json};
use medusa::xmlrpc::{
    decode_response, Client, ClientError, DecodeLimits, EncodeOptions, Fault, Value,
};

/// Exit status of a call that got a fault.
const FAULT: u8 = 1;
/// Exit status of a transport error or a bad command line (clap's too).
const FAILED: u8 = 2;

// The fields' doc comments are --help text, as the user reads it
// (`<nil/>`, JSON in brackets), not markdown for rustdoc.
#[allow(
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags,
    rustdoc::bare_urls
)]
#[derive(Parser, Debug)]
#[command(
    name = "medusa-call",
    version,
    about = "Call an XML-RPC method; arguments and the result are JSON",
    disable_help_flag = true,
    after_help = "\
Arguments are JSON: 42, 1.5, true, \"text\" (quoted for the shell: '\"text\"'),
null (<nil/>), [1, 2], {\"a\": 1}, {\"$base64\": \"aGk=\"},
{\"$datetime\": \"20261201T12:00:00\"} (see docs/json.md).

Exit status: 0 a result, 1 a fault (printed as `fault CODE: STRING` on
stderr), 2 a transport error or a bad command line."
)]
struct Cli {
    /// The server: http://[user:password@]host[:port]/path, https://...,
    /// unix:///path/to/socket
    url: Option<String>,
    /// The method to call (with --multicall: METHOD ARGS-ARRAY pairs)
    method: Option<String>,
    /// Its arguments, each one JSON value
    #[arg(allow_hyphen_values = true)]
    args: Vec<String>,
    /// List the server's methods (system.listMethods)
    #[arg(long, conflicts_with_all = ["method", "multicall"])]
    list: bool,
    /// Without a value: this help. With METHOD: the server's help and
    /// signatures for it (system.methodHelp, system.methodSignature)
    #[arg(short, long, value_name = "METHOD", num_args = 0..=1)]
    help: Option<Option<String>>,
    /// Several calls in one request (system.multicall): METHOD ARGS-ARRAY
    /// pairs, e.g. add '[1,2]' echo '["x"]'
    #[arg(long)]
    multicall: bool,
    /// Print the raw methodResponse document instead of JSON (a fault is
    /// still also `fault CODE: STRING` on stderr, and exit status 1)
    #[arg(long)]
    xml: bool,
    /// Indent the JSON printed
    #[arg(long)]
    pretty: bool,
    /// HTTP Basic credentials, NAME:PASSWORD (or NAME, with the password in
    /// MEDUSA_CALL_PASSWORD); instead of any in the URL
    #[arg(short, long, value_name = "NAME[:PASSWORD]")]
    user: Option<String>,
    /// Seconds allowed to connect, and for each read and write
    #[arg(short, long, value_name = "SECONDS", default_value_t = 30.0)]
    timeout: f64,
    /// Also believe the CA certificates in FILE (PEM) for https://
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// Never send <nil/> or <i8> (for strict servers)
    #[arg(long)]
    no_extensions: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("medusa-call: {message}");
            ExitCode::from(FAILED)
        }
    }
}

/// What went wrong before or instead of an answer: printed, exit 2.
type Failure = String;

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let Some(url) = cli.url.as_deref() else {
        return usage(cli.help.is_some());
    };
    let mut client = connect(&cli, url)?;
    if cli.list {
        return introspect::list(&mut client);
    }
    match &cli.help {
        Some(Some(method)) => return introspect::describe(&mut client, method),
        Some(None) => return usage(true),
        None => {}
    }
    let Some(method) = cli.method.clone() else {
        return Err("no METHOD given (or --list); see medusa-call --help".to_string());
    };
    if cli.multicall {
        let mut words = vec![method];
        words.extend(cli.args.iter().cloned());
        let calls = introspect::multicall_param(&words)?;
        return answer(&cli, &mut client, "system.multicall", vec![calls]);
    }
    let params = cli
        .args
        .iter()
        .enumerate()
        .map(|(i, text)| json_arg(i + 1, text))
        .collect::<Result<Vec<Value>, Failure>>()?;
    answer(&cli, &mut client, &method, params)
}

/// `--help` without a URL (or without a value): clap's usage text.
fn usage(asked: bool) -> Result<ExitCode, Failure> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    if asked {
        command.print_long_help().map_err(|e| e.to_string())?;
        return Ok(ExitCode::SUCCESS);
    }
    Err(format!("no URL given\n\n{}", command.render_usage()))
}

/// A client for `url` with the options' timeout, CA, credentials.
fn connect(cli: &Cli, url: &str) -> Result<Client, Failure> {
    let mut client = Client::new(url).map_err(|e| e.to_string())?;
    let timeout = Duration::try_from_secs_f64(cli.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| {
            format!(
                "--timeout: not a positive number of seconds: {}",
                cli.timeout
            )
        })?;
    client.set_timeout(Some(timeout));
    if let Some(ca) = &cli.cacert {
        client
            .tls_mut()
            .add_ca_file(ca)
            .map_err(|e| format!("--cacert {}: {e}", ca.display()))?;
    }
    if let Some(user) = &cli.user {
        let (name, password) = match user.split_once(':') {
            Some((name, password)) => (name.to_string(), password.to_string()),
            None => (
                user.clone(),
                std::env::var("MEDUSA_CALL_PASSWORD").unwrap_or_default(),
            ),
        };
        client.set_credentials(&name, &password);
    }
    if cli.no_extensions {
        client.set_encode_options(EncodeOptions {
            nil: false,
            i8: false,
        });
    }
    Ok(client)
}

/// The `n`th argument, parsed as JSON and mapped to a value.
fn json_arg(n: usize, text: &str) -> Result<Value, Failure> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!("argument {n} is not JSON ({e}): {text:?}; a string is written \"{text}\" (quote it for the shell)")
    })?;
    from_json(json).map_err(|e| format!("argument {n}: {e}"))
}

/// Makes the call and prints what came back; the exit status says what.
fn answer(
    cli: &Cli,
    client: &mut Client,
    method: &str,
    params: Vec<Value>,
) -> Result<ExitCode, Failure> {
    if cli.xml {
        let xml = client
            .call_raw(method, &params)
            .map_err(|e| e.to_string())?;
        let mut out = std::io::stdout().lock();
        out.write_all(&xml)
            .and_then(|()| out.flush())
            .map_err(|e| e.to_string())?;
        // The document is the output either way; the status still says
        // whether it was a fault, as without --xml. One the decoder cannot
        // read is shown as it came, for whoever asked to see the wire.
        let limits = DecodeLimits {
            max_size: xml.len(),
            ..DecodeLimits::default()
        };
        return Ok(match decode_response(&xml, &limits) {
            Ok(Err(fault)) => fault_exit(&fault),
            _ => ExitCode::SUCCESS,
        });
    }
    match client.call(method, params) {
        Ok(value) => {
            print_json(cli, &value)?;
            // A multicall's entries may be faults: say so in the status.
            let faulted = method == "system.multicall"
                && matches!(&value, Value::Array(items) if items.iter().any(|i| matches!(i, Value::Struct(_))));
            Ok(ExitCode::from(if faulted { FAULT } else { 0 }))
        }
        Err(ClientError::Fault(fault)) => Ok(fault_exit(&fault)),
        Err(e) => Err(format!(
            "{}: {e}",
            redacted(cli.url.as_deref().unwrap_or(""))
        )),
    }
}

/// Says `fault CODE: STRING` on stderr; the exit status of a fault.
fn fault_exit(fault: &Fault) -> ExitCode {
    eprintln!("fault {}: {}", fault.code, printable(&fault.message));
    ExitCode::from(FAULT)
}

/// The URL without its password, for error messages.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// A server's text, safe for a terminal: control characters (escape
/// sequences, line breaks a fault string could forge output with) are
/// written as `\u{1b}`-style escapes.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

fn print_json(cli: &Cli, value: &Value) -> Result<(), Failure> {
    let json = to_json(value);
    let text = if cli.pretty {
        serde_json::to_string_pretty(&json)
    } else {
        serde_json::to_string(&json)
    };
    println!("{}", text.map_err(|e| e.to_string())?);
    Ok(())
}
