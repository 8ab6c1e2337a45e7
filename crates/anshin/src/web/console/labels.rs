//! The shipping label's image response and page (issue 15; C19, C22,
//! C23; ADR 0017), used by the counter's routes (`super::counter`).
//!
//! The image route checks the worker's open shift on this session's
//! terminal and commits the audit entry of the view
//! (`anshin_core::counter::view_label`), and only then calls
//! [`label_image`] (ADR 0017, "Wiring the label view"). If the audit write
//! fails, the route answers its error and never reaches this module.
//!
//! What an attacker (or a curious worker) would try, and what stops it:
//! * read the address as text from the page, its DOM or a JSON call: the
//!   page holds no personal data; the label's text exists only as pixels
//!   of the PNG ([`label_page_html`] takes none);
//! * get the image from a cache later (a shared terminal's browser, a
//!   proxy): the image says `Cache-Control: no-store` (and the console's
//!   outer layer says it on every response);
//! * make the browser save it as a download with a telling name:
//!   `Content-Disposition: inline`, no file name;
//! * photograph or screenshot it: the faint watermark repeated over the
//!   whole label names the member of staff and the time of the view, and
//!   the audit log names the terminal and shift of that view;
//! * break the renderer with hostile address text: refused with a 422
//!   naming nothing ([`anshin_labels::LabelError`] carries field names
//!   only), never a panic.

use std::path::Path;
use std::sync::Arc;

use anshin_core::i18n::{Lang, StaffCatalog};
use anshin_labels::{Label, LabelError, LabelFont, Watermark};
use askama::Template;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::pages::{ConsoleLayout, page};
use super::{ConsoleState, Staff, bare};
use crate::web::common::assets::Assets;

/// The label font, read once at start and kept (Debian's
/// `/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc`, face 0 =
/// Noto Sans CJK JP). A face is parsed from these bytes per render; that
/// costs microseconds (the table directory), not a file read.
pub struct LabelFontFile {
    bytes: Vec<u8>,
    index: u32,
}

impl std::fmt::Debug for LabelFontFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabelFontFile")
            .field("bytes", &self.bytes.len())
            .field("index", &self.index)
            .finish()
    }
}

/// Why the label font could not be loaded (at start: the server refuses
/// to start the shipping area without it).
#[derive(Debug, thiserror::Error)]
pub enum LabelFontError {
    #[error("the label font file could not be read: {0}")]
    Read(#[from] std::io::Error),
    #[error(transparent)]
    Font(#[from] LabelError),
}

impl LabelFontFile {
    pub fn load(path: &Path, index: u32) -> Result<Self, LabelFontError> {
        let bytes = std::fs::read(path)?;
        LabelFont::from_bytes(&bytes, index)?;
        Ok(Self { bytes, index })
    }

    pub fn font(&self) -> Result<LabelFont<'_>, LabelError> {
        LabelFont::from_bytes(&self.bytes, self.index)
    }
}

/// The PNG as the response: `image/png`, shown inline, never stored.
pub fn png_response(png: Vec<u8>) -> Response {
    let mut res = png.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Renders `label` with `watermark` (on the blocking pool: a render is a
/// few milliseconds of CPU) and serves it. Call it only after the view's
/// audit entry is committed. A label that cannot be drawn (a character
/// the font lacks, an address too long for its box) is a 422 with an
/// empty body; the log names the field, never its value.
pub async fn label_image(font: Arc<LabelFontFile>, label: Label, watermark: Watermark) -> Response {
    let rendered = tokio::task::spawn_blocking(move || {
        let face = font.font()?;
        anshin_labels::render(&label, &face, &watermark)
    })
    .await;
    match rendered {
        Ok(Ok(png)) => png_response(png),
        Ok(Err(
            e @ (LabelError::Font { .. }
            | LabelError::FontCoverage
            | LabelError::Qr
            | LabelError::Encode),
        )) => {
            tracing::error!(error = %e, "label render failed");
            bare(StatusCode::INTERNAL_SERVER_ERROR)
        }
        Ok(Err(e)) => {
            // Field names only (LabelError never carries a value).
            tracing::warn!(error = %e, "label refused");
            bare(StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => {
            tracing::error!(error = %e, "label render task failed");
            bare(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

#[derive(Template)]
#[template(path = "console/label.html")]
struct LabelPage<'a> {
    layout: ConsoleLayout<'a>,
    image_url: &'a str,
    alt: String,
}

/// The label page's HTML: the image at `image_url` (a URL naming the
/// shipment by id, never a drop-off code or personal data), a print
/// button, and print styles that print the label only, at 104 × 148 mm.
/// It takes no personal data, so it can show none.
pub fn label_page_html(
    t: &StaffCatalog,
    lang: Lang,
    assets: &Assets,
    csrf: String,
    image_url: &str,
    waybill: &str,
) -> Result<String, askama::Error> {
    let layout = ConsoleLayout {
        t,
        lang: lang.code(),
        title: &t.labels.title,
        css: assets.url("app.css"),
        icon: assets.url("icon.svg"),
        nocopy_js: assets.url("console-nocopy.js"),
        label_print: true,
        signed_in: true,
        admin: false,
        support: false,
        security: false,
        incidents: false,
        shipping: true,
        alerts: false,
        finance: false,
        csrf,
        flash: None,
    };
    LabelPage {
        alt: t.labels.alt.replace("{waybill}", waybill),
        layout,
        image_url,
    }
    .render()
}

/// The label page for the signed-in worker (the menu as their role has
/// it).
pub fn label_page(
    state: &ConsoleState,
    headers: &HeaderMap,
    staff: &Staff,
    image_url: &str,
    waybill: &str,
) -> Response {
    let mut layout = ConsoleLayout::new(state, headers, Some(staff), |t| &t.labels.title);
    layout.label_print = true;
    let alt = layout.t.labels.alt.replace("{waybill}", waybill);
    page(
        StatusCode::OK,
        headers,
        LabelPage {
            layout,
            image_url,
            alt,
        }
        .render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use anshin_core::i18n::Catalogs;
    use anshin_labels::{ParcelSize, PartyInput};

    const NOTO: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

    fn label() -> Label {
        let p = PartyInput {
            name: "山田 花子".into(),
            postcode: "100-0001".into(),
            prefecture: "東京都".into(),
            address_lines: vec!["千代田区千代田1-1".into()],
            phone: Some("090-1234-5678".into()),
        };
        Label::new("AN-0001", ParcelSize::S60, &p, &p).unwrap()
    }

    fn wm() -> Watermark {
        Watermark::new("staff-1", "2026-12-06T03:00Z").unwrap()
    }

    #[tokio::test]
    async fn c23_the_label_image_is_an_inline_png_never_stored() {
        let font = Arc::new(LabelFontFile::load(Path::new(NOTO), 0).unwrap());
        let res = label_image(font, label(), wm()).await;
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers();
        assert_eq!(h[header::CONTENT_TYPE], "image/png");
        assert_eq!(h[header::CONTENT_DISPOSITION], "inline");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(body.starts_with(b"\x89PNG\r\n\x1a\n"));
        // No label text in the bytes (it is pixels).
        for text in ["山田", "100-0001", "東京都", "090-1234"] {
            assert!(
                !body.windows(text.len()).any(|w| w == text.as_bytes()),
                "{text} in the PNG bytes"
            );
        }
    }

    #[tokio::test]
    async fn c19_a_label_the_font_cannot_draw_is_a_bare_422() {
        let font = Arc::new(LabelFontFile::load(Path::new(NOTO), 0).unwrap());
        let p = PartyInput {
            name: "山田\u{10FFFD}".into(),
            postcode: "1".into(),
            prefecture: "東京都".into(),
            address_lines: vec!["x".into()],
            phone: None,
        };
        let label = Label::new("AN-1", ParcelSize::S60, &p, &p).unwrap();
        let res = label_image(font, label, wm()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(body.is_empty());
    }

    #[test]
    fn a_missing_or_wrong_font_file_is_an_error_at_load() {
        assert!(matches!(
            LabelFontFile::load(Path::new("/nonexistent/font.ttc"), 0),
            Err(LabelFontError::Read(_))
        ));
        assert!(matches!(
            LabelFontFile::load(Path::new(NOTO), 42),
            Err(LabelFontError::Font(LabelError::Font { index: 42 }))
        ));
    }

    #[test]
    fn c23_the_label_page_has_the_image_the_print_button_and_no_copy_layer() {
        let catalogs = Catalogs::load().unwrap();
        let assets = Assets::new();
        for lang in [Lang::Ja, Lang::En] {
            let t = &catalogs.get(lang).staff;
            let html = label_page_html(
                t,
                lang,
                &assets,
                "csrf".into(),
                "/shipping/labels/0192/image",
                "AN-0001",
            )
            .unwrap();
            assert!(
                html.contains(r#"<body class="console label-print">"#),
                "{html}"
            );
            assert!(html.contains(&format!(
                r#"<script src="{}"></script>"#,
                assets.url("console-nocopy.js")
            )));
            assert!(html.contains(r#"src="/shipping/labels/0192/image""#));
            assert!(html.contains(&t.labels.alt.replace("{waybill}", "AN-0001")));
            assert!(html.contains("data-print"));
            assert!(html.contains(&t.labels.print));
            // No inline script or handler (the CSP allows none).
            assert!(!html.contains("onclick") && html.matches("<script").count() == 1);
        }
    }
}
