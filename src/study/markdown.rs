//! A tiny, safe markdown → HTML renderer for consent and instruction text. Every character
//! of the source is HTML-escaped; the only tags produced are fixed ones (`p`, `h1`-`h3`,
//! `ul`/`li`, `strong`, `em`, `code`, `a`). Links are kept only for http(s) URLs (then with
//! `rel="noopener noreferrer"`); any other scheme (`javascript:`, `data:`, ...) renders as
//! the link's plain text. So `<script>`, `onerror=` and `javascript:` payloads are inert.
//!
//! Supported: `#`/`##`/`###` headings, `- ` or `* ` lists, blank-line paragraphs,
//! `**bold**`, `*em*`, `` `code` ``, `[text](https://...)`.

use super::validate::is_http_url;

/// How deep `**`/`*`/links may nest (deeper markers render literally).
const MAX_INLINE_DEPTH: usize = 8;

/// Escape text for HTML element content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Render markdown `src` as an HTML fragment.
pub fn render(src: &str) -> String {
    let mut out = String::new();
    let mut para: Vec<&str> = Vec::new();
    let mut list: Vec<&str> = Vec::new();
    let flush = |out: &mut String, para: &mut Vec<&str>, list: &mut Vec<&str>| {
        if !para.is_empty() {
            out.push_str(&format!("<p>{}</p>\n", inline(&para.join(" "), 0)));
            para.clear();
        }
        if !list.is_empty() {
            out.push_str("<ul>\n");
            for item in list.iter() {
                out.push_str(&format!("<li>{}</li>\n", inline(item, 0)));
            }
            out.push_str("</ul>\n");
            list.clear();
        }
    };
    for raw in src.lines() {
        let line = raw.trim();
        if line.is_empty() {
            flush(&mut out, &mut para, &mut list);
            continue;
        }
        let heading = ["### ", "## ", "# "]
            .iter()
            .enumerate()
            .find_map(|(i, h)| line.strip_prefix(h).map(|rest| (3 - i, rest)));
        if let Some((level, rest)) = heading {
            flush(&mut out, &mut para, &mut list);
            out.push_str(&format!("<h{level}>{}</h{level}>\n", inline(rest.trim(), 0)));
        } else if let Some(item) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
            if !para.is_empty() {
                flush(&mut out, &mut para, &mut Vec::new());
            }
            list.push(item);
        } else {
            if !list.is_empty() {
                flush(&mut out, &mut Vec::new(), &mut list);
            }
            para.push(line);
        }
    }
    flush(&mut out, &mut para, &mut list);
    out
}

/// Inline markup of one block's text.
fn inline(s: &str, depth: usize) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if depth < MAX_INLINE_DEPTH {
            if let Some((html, used)) = span(rest, depth) {
                out.push_str(&html);
                rest = &rest[used..];
                continue;
            }
        }
        out.push_str(&escape(&c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A marked-up span at the start of `s`: its HTML and the bytes it used.
fn span(s: &str, depth: usize) -> Option<(String, usize)> {
    if let Some(body) = s.strip_prefix('`') {
        let end = body.find('`')?;
        return Some((format!("<code>{}</code>", escape(&body[..end])), end + 2));
    }
    if let Some(body) = s.strip_prefix("**") {
        let end = body.find("**").filter(|&e| e > 0)?;
        return Some((format!("<strong>{}</strong>", inline(&body[..end], depth + 1)), end + 4));
    }
    if let Some(body) = s.strip_prefix('*') {
        let end = body.find('*').filter(|&e| e > 0)?;
        return Some((format!("<em>{}</em>", inline(&body[..end], depth + 1)), end + 2));
    }
    if let Some(body) = s.strip_prefix('[') {
        let close = body.find("](")?;
        let text = &body[..close];
        let after = &body[close + 2..];
        // The closing parenthesis that balances the opening one (URLs may hold pairs).
        let mut depth = 0usize;
        let end = after.char_indices().find_map(|(i, c)| match c {
            '(' => {
                depth += 1;
                None
            }
            ')' if depth == 0 => Some(i),
            ')' => {
                depth -= 1;
                None
            }
            _ => None,
        })?;
        let url = after[..end].trim();
        let used = 1 + close + 2 + end + 1;
        let label = inline(text, depth + 1);
        let html = if is_http_url(url) {
            format!("<a href=\"{}\" rel=\"noopener noreferrer\" target=\"_blank\">{label}</a>", escape(url))
        } else {
            label
        };
        return Some((html, used));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No raw tag but the renderer's own, and no attribute but href/rel/target.
    fn assert_inert(html: &str) {
        let lower = html.to_ascii_lowercase();
        assert!(
            !lower.contains("<script") && !lower.contains("<img") && !lower.contains("<iframe"),
            "{html}"
        );
        assert!(
            !lower.contains("href=\"javascript")
                && !lower.contains("href=\"data:")
                && !lower.contains("href=\"vbscript"),
            "{html}"
        );
        for tag in lower.split('<').skip(1) {
            let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '/').collect();
            let allowed = [
                "p", "/p", "h1", "/h1", "h2", "/h2", "h3", "/h3", "ul", "/ul", "li", "/li", "strong",
                "/strong", "em", "/em", "code", "/code", "a", "/a",
            ];
            assert!(allowed.contains(&name.as_str()), "unexpected tag <{name}> in {html}");
            let head = tag.split('>').next().unwrap_or("");
            assert!(!head.contains(" on"), "event attribute in {html}");
        }
    }

    #[test]
    fn script_onerror_and_javascript_payloads_render_inert() {
        let payloads = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click me](javascript:alert(1))",
            "[click](JaVaScRiPt:alert(document.cookie))",
            "[x]( javascript:alert(1) )",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "**<svg onload=alert(1)>**",
            "[ok](https://example.org/\"onmouseover=\"alert(1))",
            "# <iframe src=javascript:alert(1)>",
            "- item <b onclick=x>",
            "`<script>`",
            "*[nested](javascript:x)*",
        ];
        for p in payloads {
            let html = render(p);
            assert_inert(&html);
            assert!(!html.contains('<') || html.starts_with('<'), "{html}");
        }
        assert!(render("<script>x</script>").contains("&lt;script&gt;x&lt;/script&gt;"));
        assert_eq!(render("[click me](javascript:alert(1))"), "<p>click me</p>\n");
        assert!(render("a onerror=alert(1) b").contains("onerror=alert(1)"), "text stays, as text");
    }

    #[test]
    fn ordinary_markdown_renders() {
        let html = render("# Consent\n\nYou may **stop** at any time, see [our page](https://example.org/a?b=1&c=2).\n\n- one\n- *two*\n");
        assert!(html.contains("<h1>Consent</h1>"), "{html}");
        assert!(html.contains("<strong>stop</strong>"), "{html}");
        assert!(html.contains("<a href=\"https://example.org/a?b=1&amp;c=2\" rel=\"noopener noreferrer\" target=\"_blank\">our page</a>"), "{html}");
        assert!(html.contains("<ul>\n<li>one</li>\n<li><em>two</em></li>\n</ul>"), "{html}");
    }
}
