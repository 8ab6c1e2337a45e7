//! Item and shop descriptions: Markdown source rendered to HTML with
//! `pulldown-cmark`, then sanitised with `ammonia`, so that what a creator
//! writes can never become script on a buyer's page.
//!
//! Rendering alone is not safe: CommonMark passes raw HTML through
//! (`<script>`, `<img onerror>`), and links may be `javascript:`. The
//! sanitiser runs on the *output*, with a short allow list: text
//! formatting, lists, quotes, code, tables, headings (shifted below the
//! page's own `h1`), and links to `http`, `https` and `mailto` only, which
//! get `rel="noopener noreferrer nofollow ugc"`. No images (a creator's
//! pictures are the uploaded, re-encoded ones; a remote `<img>` would
//! track buyers), no `style`, no `class`, no `id`, no forms, no frames.
//! The page's CSP (no inline script) stands behind it.

use std::collections::HashSet;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// The description as safe HTML.
pub fn render(source: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    // Headings one level down: `#` is an h2 under the page's h1 title.
    let events = Parser::new_ext(source, options).map(|e| match e {
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: lower(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(lower(level))),
        other => other,
    });
    let mut html = String::with_capacity(source.len() * 2);
    pulldown_cmark::html::push_html(&mut html, events);
    sanitiser().clean(&html).to_string()
}

fn lower(level: pulldown_cmark::HeadingLevel) -> pulldown_cmark::HeadingLevel {
    use pulldown_cmark::HeadingLevel as H;
    match level {
        H::H1 => H::H2,
        H::H2 => H::H3,
        H::H3 => H::H4,
        H::H4 => H::H5,
        H::H5 | H::H6 => H::H6,
    }
}

fn sanitiser() -> ammonia::Builder<'static> {
    let tags: HashSet<&str> = [
        "p",
        "br",
        "hr",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "strong",
        "em",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    ]
    .into_iter()
    .collect();
    let mut b = ammonia::Builder::empty();
    b.tags(tags)
        .add_tag_attributes("a", ["href"])
        .add_tag_attributes("ol", ["start"])
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow ugc"))
        .url_relative(ammonia::UrlRelative::Deny)
        .strip_comments(true);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_formatting_lists_and_safe_links() {
        let html =
            render("# 見出し\n\n**太字** と *斜体*\n\n- a\n- b\n\n[shop](https://example.jp/x)");
        assert!(html.contains("<h2>見出し</h2>"), "{html}");
        assert!(html.contains("<strong>太字</strong>"), "{html}");
        assert!(html.contains("<li>a</li>"), "{html}");
        assert!(
            html.contains(
                "<a href=\"https://example.jp/x\" rel=\"noopener noreferrer nofollow ugc\">shop</a>"
            ),
            "{html}"
        );
    }

    /// XSS vectors from the OWASP cheat sheet and PortSwigger's list, in
    /// Markdown and raw HTML: none leaves a script, an event handler, a
    /// dangerous URL or a style in the output.
    #[test]
    fn c06_markdown_cannot_carry_script() {
        let vectors = [
            "<script>alert(1)</script>",
            "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
            "<img src=x onerror=alert(1)>",
            "<svg onload=alert(1)>",
            "<svg><script>alert(1)</script></svg>",
            "<iframe src=\"javascript:alert(1)\"></iframe>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](java\tscript:alert(1))",
            "[x](&#106;avascript:alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            "[x](vbscript:msgbox(1))",
            "![x](https://tracker.example/pixel.png)",
            "<p style=\"background:url(javascript:alert(1))\">x</p>",
            "<div onmouseover=\"alert(1)\">x</div>",
            "<form action=\"https://evil.example\"><input name=p></form>",
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
            "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
            "<object data=\"javascript:alert(1)\"></object>",
            "<embed src=\"javascript:alert(1)\">",
            "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
            "<base href=\"javascript:alert(1)//\">",
            "<a href=\"/relative\">x</a>",
            "`<script>alert(1)</script>`",
            "```\n<script>alert(1)</script>\n```",
            "<!-- <script>alert(1)</script> -->",
            "<details open ontoggle=alert(1)>",
            "<a href=\"https://ok.example\" onclick=\"alert(1)\" target=\"_blank\">x</a>",
        ];
        for v in vectors {
            let html = render(v).to_ascii_lowercase();
            for bad in [
                "<script",
                "onerror",
                "onload",
                "onmouseover",
                "onclick",
                "ontoggle",
                "javascript:",
                "vbscript:",
                "data:",
                "<img",
                "<svg",
                "<iframe",
                "<form",
                "<input",
                "<object",
                "<embed",
                "<meta",
                "<base",
                "<style",
                "style=",
                "target=",
                "href=\"/relative",
                "<!--",
                "<details",
            ] {
                assert!(!html.contains(bad), "{v:?} rendered {html:?}");
            }
        }
        // Code shows the characters, escaped.
        assert!(render("`<b>`").contains("&lt;b&gt;"));
    }
}
