//! Safe markdown → HTML for consent and instruction text, through `pulldown-cmark`
//! (CommonMark: headings, numbered and bulleted lists, emphasis, code, quotes, links).
//!
//! What a protocol author cannot do: raw HTML in the source (`<script>`, `<img onerror=…>`)
//! is shown as escaped text, never as markup; a link keeps its `href` only for `http:`,
//! `https:` and `mailto:` (then opening in a new tab with `rel="noopener noreferrer"`), and
//! any other target (`javascript:`, `data:`, relative paths) renders as the link's plain
//! text; images render as their alt text (no remote loads from a consent form). A single
//! newline inside a paragraph is a line break (`<br />`), as protocol authors writing JSON
//! strings expect.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};

/// Link schemes that keep their `href` (compared case-insensitively).
const ALLOWED_SCHEMES: &[&str] = &["http", "https", "mailto"];

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

/// Whether a link target may keep its `href`: an allowed scheme, then no whitespace,
/// control character, quote or angle bracket anywhere.
pub fn is_allowed_link(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else { return false };
    ALLOWED_SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme))
        && !rest.is_empty()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>'))
}

/// Render markdown `src` as an HTML fragment.
pub fn render(src: &str) -> String {
    // For each open link or image: whether its tags are written (false: text only).
    let mut open: Vec<bool> = Vec::new();
    let events = Parser::new_ext(src, Options::empty()).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::SoftBreak => Some(Event::HardBreak),
        Event::Start(Tag::Link { dest_url, .. }) => {
            let keep = is_allowed_link(&dest_url);
            open.push(keep);
            keep.then(|| {
                Event::InlineHtml(CowStr::from(format!(
                    "<a href=\"{}\" rel=\"noopener noreferrer\" target=\"_blank\">",
                    escape(&dest_url)
                )))
            })
        }
        Event::End(TagEnd::Link) => open.pop().unwrap_or(false).then(|| Event::InlineHtml("</a>".into())),
        Event::Start(Tag::Image { .. }) => {
            open.push(false);
            None
        }
        Event::End(TagEnd::Image) => {
            open.pop();
            None
        }
        other => Some(other),
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tags the renderer may produce.
    const ALLOWED_TAGS: &[&str] = &[
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "strong",
        "em",
        "code",
        "pre",
        "a",
        "br",
        "blockquote",
        "hr",
    ];

    /// No tag but the allowed ones, no attribute but href/rel/target, no unsafe href.
    fn assert_inert(html: &str) {
        let lower = html.to_ascii_lowercase();
        for tag in lower.split('<').skip(1) {
            let name: String =
                tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            assert!(ALLOWED_TAGS.contains(&name.as_str()), "unexpected tag <{name}> in {html}");
            let head = tag.split('>').next().unwrap_or("");
            assert!(!head.contains(" on") && !head.contains("src="), "unexpected attribute in {html}");
            if let Some(href) = head.split("href=\"").nth(1) {
                assert!(
                    href.starts_with("http://")
                        || href.starts_with("https://")
                        || href.starts_with("mailto:"),
                    "unsafe href in {html}"
                );
            }
        }
    }

    #[test]
    fn numbered_lists_render_as_ordered_lists() {
        let html = render("Steps:\n\n1. read\n2. *answer*\n3. submit\n");
        assert!(
            html.contains("<ol>\n<li>read</li>\n<li><em>answer</em></li>\n<li>submit</li>\n</ol>"),
            "{html}"
        );
        let html = render("3. third\n4. fourth\n");
        assert!(html.contains("<ol start=\"3\">"), "{html}");
    }

    #[test]
    fn a_newline_inside_a_paragraph_is_a_line_break() {
        assert_eq!(render("first line\nsecond line"), "<p>first line<br />\nsecond line</p>\n");
        assert_eq!(render("one\n\ntwo"), "<p>one</p>\n<p>two</p>\n");
    }

    #[test]
    fn raw_html_is_escaped_text() {
        assert_eq!(render("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        let html = render("Hello <img src=x onerror=alert(1)> there");
        assert_eq!(html, "<p>Hello &lt;img src=x onerror=alert(1)&gt; there</p>\n");
    }

    #[test]
    fn javascript_and_data_links_lose_their_href() {
        assert_eq!(render("[click me](javascript:alert(1))"), "<p>click me</p>\n");
        assert_eq!(render("[x](JaVaScRiPt:alert(1))"), "<p>x</p>\n");
        assert_eq!(render("[x](data:text/html;base64,PHNjcmlwdD4=)"), "<p>x</p>\n");
        assert_eq!(render("[x](java&#9;script:alert(1))"), "<p>x</p>\n");
        assert_eq!(render("<javascript:alert(1)>"), "<p>javascript:alert(1)</p>\n");
        assert_eq!(render("[rel](/local/page)"), "<p>rel</p>\n");
    }

    #[test]
    fn http_https_and_mailto_links_are_kept() {
        let html = render("See [our page](https://example.org/a?b=1&c=2) or [mail](mailto:lab@example.org).");
        assert!(
            html.contains(
                "<a href=\"https://example.org/a?b=1&amp;c=2\" rel=\"noopener noreferrer\" target=\"_blank\">our page</a>"
            ),
            "{html}"
        );
        assert!(html.contains("<a href=\"mailto:lab@example.org\""), "{html}");
        assert!(render("<http://example.org>").contains("<a href=\"http://example.org\""));
    }

    #[test]
    fn hostile_payloads_render_inert() {
        let payloads = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](JaVaScRiPt:alert(document.cookie))",
            "[x]( javascript:alert(1) )",
            "**<svg onload=alert(1)>**",
            "[ok](https://example.org/\"onmouseover=\"alert(1))",
            "[ok](<https://example.org/ onmouseover=alert(1)>)",
            "# <iframe src=javascript:alert(1)>",
            "- item <b onclick=x>",
            "`<script>`",
            "*[nested](javascript:x)*",
            "![pic](https://example.org/x.png)",
            "[![pic](x.png)](javascript:x)",
            "<div>\n\n**block html**\n\n</div>",
            "```\n<script>\n```",
        ];
        for p in payloads {
            assert_inert(&render(p));
        }
        assert!(render("a onerror=alert(1) b").contains("onerror=alert(1)"), "text stays, as text");
        assert_eq!(render("![a cat](https://example.org/cat.png)"), "<p>a cat</p>\n");
    }

    #[test]
    fn consent_text_renders_headings_emphasis_and_bullets() {
        let html = render("# Consent\n\nYou may **stop** at any time.\n\n- one\n- *two*\n");
        assert!(html.contains("<h1>Consent</h1>"), "{html}");
        assert!(html.contains("<strong>stop</strong>"), "{html}");
        assert!(html.contains("<ul>\n<li>one</li>\n<li><em>two</em></li>\n</ul>"), "{html}");
    }
}
