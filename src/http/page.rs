//! The one look of every HTML page the server makes: the status page, an
//! XML-RPC service's method list, error pages, the landing page. Written
//! once, so that they all read alike and none loads anything from
//! elsewhere (no external stylesheet, script or font).

use super::response::html_escape;

/// The shared stylesheet, inline.
pub const PAGE_STYLE: &str = concat!(
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}",
    "h1{font-size:1.6em;border-bottom:2px solid #1f5f7a;padding-bottom:.2em}",
    "a{color:#1f5f7a}code{background:#f3f3f3;padding:0 .2em}",
    "table{border-collapse:collapse;margin-bottom:1.5em}",
    "td,th{border:1px solid #ccc;padding:.3em .8em;text-align:left}",
    "th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}",
    "dt{margin-top:1em;font-weight:bold}p.detail{color:#555}",
);

/// The start of a page titled `title` (escaped here), up to and including
/// `<body>`; the caller appends the body, then [`PAGE_END`].
pub fn page_start(title: &str) -> String {
    page_start_with(title, "")
}

/// [`page_start`] with `head` (markup, not escaped: the caller's own, never
/// a peer's) added to the `<head>`, e.g. a `<meta http-equiv="refresh">`.
pub fn page_start_with(title: &str, head: &str) -> String {
    let mut html = String::with_capacity(4096);
    html.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">");
    html.push_str(head);
    html.push_str("<meta name=\"viewport\" content=\"width=device-width\"><title>");
    html.push_str(&html_escape(title));
    html.push_str("</title>\n<style>");
    html.push_str(PAGE_STYLE);
    html.push_str("</style></head><body>\n");
    html
}

/// What closes a page [`page_start`] began.
pub const PAGE_END: &str = "</body></html>\n";
