//! A directory without `index.html`, listed: Medusa's file system handler
//! answered such a request with an `ls`-style page, and so does this one.
//! Names, sizes, modification times; sortable by any column (links in the
//! column heads: `?sort=size&order=desc`); every name escaped for HTML and
//! %-encoded in its link. Dot files are left out (`.git`, `.env`: a
//! listing should not advertise them). At most [`MAX_ENTRIES`] entries.

use std::cmp::Ordering;
use std::fs;
use std::path::Path;
use std::time::SystemTime;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::http::{html_escape, page_start, Request, Response, PAGE_END};

/// Entries listed at most; the page says when there were more. A
/// directory of millions would otherwise be read whole, on the loop.
pub const MAX_ENTRIES: usize = 10_000;

/// What a name may keep unescaped in a link: the URL's unreserved marks.
const NAME: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

struct Entry {
    name: String,
    dir: bool,
    size: u64,
    modified: Option<SystemTime>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Size,
    Modified,
}

/// The listing of `dir` (already opened and checked to lie under the
/// root) for `request`, whose path ends in `/`.
pub fn listing(dir: &Path, request: &Request) -> Response {
    let Ok(read) = fs::read_dir(dir) else {
        return Response::error(404, "no such directory");
    };
    let mut entries = Vec::new();
    let mut more = false;
    for item in read.flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if entries.len() >= MAX_ENTRIES {
            more = true;
            break;
        }
        // The entry's own metadata (a symlink shows as what it points to
        // only when followed; listing it does not follow it).
        let meta = item.metadata().ok();
        entries.push(Entry {
            name,
            dir: meta.as_ref().is_some_and(|m| m.is_dir()),
            size: meta.as_ref().map_or(0, |m| m.len()),
            modified: meta.and_then(|m| m.modified().ok()),
        });
    }
    let (column, descending) = sort_order(request.query.as_deref());
    entries.sort_by(|a, b| {
        let order = match column {
            Column::Name => a.name.cmp(&b.name),
            Column::Size => a.size.cmp(&b.size).then_with(|| a.name.cmp(&b.name)),
            Column::Modified => a
                .modified
                .cmp(&b.modified)
                .then_with(|| a.name.cmp(&b.name)),
        };
        // Directories first, whichever way.
        let order = b
            .dir
            .cmp(&a.dir)
            .then(if descending { order.reverse() } else { order });
        if order == Ordering::Equal {
            a.name.cmp(&b.name)
        } else {
            order
        }
    });
    Response::ok(
        "text/html; charset=utf-8",
        page(request, &entries, more, column, descending),
    )
}

/// `?sort=name|size|modified&order=asc|desc`; anything else: by name.
fn sort_order(query: Option<&str>) -> (Column, bool) {
    let mut column = Column::Name;
    let mut descending = false;
    for pair in query.unwrap_or("").split('&') {
        match pair {
            "sort=size" => column = Column::Size,
            "sort=modified" => column = Column::Modified,
            "sort=name" => column = Column::Name,
            "order=desc" => descending = true,
            "order=asc" => descending = false,
            _ => {}
        }
    }
    (column, descending)
}

fn page(
    request: &Request,
    entries: &[Entry],
    more: bool,
    column: Column,
    descending: bool,
) -> String {
    let title = format!("Index of {}", request.path);
    let mut html = page_start(&title);
    html.push_str(&format!("<h1>{}</h1>\n<table>\n<tr>", html_escape(&title)));
    for (label, key, this) in [
        ("Name", "name", Column::Name),
        ("Size", "size", Column::Size),
        ("Modified", "modified", Column::Modified),
    ] {
        // The current column's link turns the order round.
        let order = if this == column && !descending {
            "desc"
        } else {
            "asc"
        };
        let mark = match (this == column, descending) {
            (true, false) => " &#9650;",
            (true, true) => " &#9660;",
            _ => "",
        };
        html.push_str(&format!(
            "<th><a href=\"?sort={key}&amp;order={order}\">{label}</a>{mark}</th>"
        ));
    }
    html.push_str("</tr>\n");
    if request.path != "/" {
        html.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for entry in entries {
        let slash = if entry.dir { "/" } else { "" };
        let href = utf8_percent_encode(&entry.name, NAME).to_string();
        let size = if entry.dir {
            String::new()
        } else {
            entry.size.to_string()
        };
        let modified = entry
            .modified
            .map(httpdate::fmt_http_date)
            .unwrap_or_default();
        html.push_str(&format!(
            "<tr><td><a href=\"{href}{slash}\">{}{slash}</a></td><td class=\"n\">{size}</td><td>{modified}</td></tr>\n",
            html_escape(&entry.name)
        ));
    }
    html.push_str("</table>\n");
    if more {
        html.push_str(&format!(
            "<p class=\"detail\">Only the first {MAX_ENTRIES} entries are listed.</p>\n"
        ));
    }
    html.push_str(PAGE_END);
    html
}
