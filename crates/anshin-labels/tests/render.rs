//! The label renderer with Debian's Noto Sans CJK (`fonts-noto-cjk`,
//! installed by `scripts/setup`): the PNG decodes at the A6 size, the QR
//! code decodes back to the waybill number, Japanese text is drawn, a
//! missing glyph is refused, long text wraps or is refused, the watermark
//! is on every part of the label, and no input panics (C19, C22, C23).

// Test code: a panic with a message is how a test reports failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use anshin_labels::{
    Field, HEIGHT_PX, Label, LabelError, LabelFont, ParcelSize, PartyInput, Side, WIDTH_PX,
    Watermark, render,
};
use image::GrayImage;
use proptest::prelude::*;
use std::sync::OnceLock;

const NOTO: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

fn font_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        std::fs::read(NOTO).unwrap_or_else(|e| {
            panic!("{NOTO}: {e} (install fonts-noto-cjk: scripts/setup --test)")
        })
    })
}

fn font() -> LabelFont<'static> {
    LabelFont::from_bytes(font_bytes(), 0).unwrap()
}

fn recipient() -> PartyInput {
    PartyInput {
        name: "山田 花子".into(),
        postcode: "100-0001".into(),
        prefecture: "東京都".into(),
        address_lines: vec!["千代田区千代田1-1".into(), "皇居マンション101号室".into()],
        phone: Some("090-1234-5678".into()),
    }
}

fn sender() -> PartyInput {
    PartyInput {
        name: "佐藤 太郎".into(),
        postcode: "530-0001".into(),
        prefecture: "大阪府".into(),
        address_lines: vec!["大阪市北区梅田1-1-3".into()],
        phone: None,
    }
}

fn watermark() -> Watermark {
    Watermark::new("staff-0192f3a1", "2026-12-06T03:00Z").unwrap()
}

fn decode(png: &[u8]) -> GrayImage {
    image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .unwrap()
        .to_luma8()
}

fn qr_texts(img: &GrayImage) -> Vec<String> {
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        img.width() as usize,
        img.height() as usize,
        |x, y| img.get_pixel(x as u32, y as u32).0[0],
    );
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, s)| s))
        .collect()
}

/// Pixels darker than `below` in the rectangle.
fn dark(img: &GrayImage, (x0, y0, x1, y1): (u32, u32, u32, u32), below: u8) -> usize {
    (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0[0] < below)
        .count()
}

fn render_ok(r: &PartyInput, s: &PartyInput) -> GrayImage {
    let label = Label::new("AN-0001-2345", ParcelSize::S60, r, s).unwrap();
    decode(&render(&label, &font(), &watermark()).unwrap())
}

#[test]
fn c23_the_label_is_a_png_of_a6_size_at_203_dpi() {
    let label = Label::new("AN-0001-2345", ParcelSize::S80, &recipient(), &sender()).unwrap();
    let png = render(&label, &font(), &watermark()).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let img = decode(&png);
    assert_eq!((img.width(), img.height()), (WIDTH_PX, HEIGHT_PX));
    // 104 × 148 mm at 203 dpi (A6 labels), within 0.25 mm.
    assert!((f64::from(WIDTH_PX) - 104.0 / 25.4 * 203.0).abs() < 2.0);
    assert!((f64::from(HEIGHT_PX) - 148.0 / 25.4 * 203.0).abs() < 2.0);
    // To look at it: ANSHIN_LABEL_PNG=/tmp/label.png cargo test -p anshin-labels
    if let Ok(path) = std::env::var("ANSHIN_LABEL_PNG") {
        std::fs::write(path, &png).unwrap();
    }
}

#[test]
fn c23_the_qr_code_decodes_back_to_the_waybill_number_and_nothing_else() {
    for waybill in ["AN-0001-2345", "X", &"9".repeat(32), &"W".repeat(32)] {
        let label = Label::new(waybill, ParcelSize::S60, &recipient(), &sender()).unwrap();
        let img = decode(&render(&label, &font(), &watermark()).unwrap());
        assert_eq!(qr_texts(&img), vec![waybill.to_owned()], "{waybill}");
        // The number printed beside the code shrinks to fit: nothing
        // darker than the watermark in the gap left of the code.
        let gap = (WIDTH_PX - 24 - 232 - 20, 24, WIDTH_PX - 24 - 232, 256);
        assert_eq!(dark(&img, gap, 255 - 56), 0, "{waybill}");
    }
}

#[test]
fn c19_japanese_text_is_drawn_where_the_recipient_block_is() {
    // The same label with a longer Japanese name has more ink in the
    // name's area than with a one-character one: the glyphs are drawn.
    let mut one = recipient();
    one.name = "林".into();
    let short = render_ok(&one, &sender());
    let long = render_ok(&recipient(), &sender());
    let block = (24, 300, WIDTH_PX - 24, 800);
    let (a, b) = (dark(&short, block, 128), dark(&long, block, 128));
    assert!(b > a + 500, "dark pixels: 林 {a}, 山田 花子 {b}");
    // And a blank label area (no text at all) would have none: the
    // watermark alone never reaches below 128.
    let blank = GrayImage::from_pixel(WIDTH_PX, HEIGHT_PX, image::Luma([255]));
    assert_eq!(dark(&blank, block, 128), 0);
    assert!(dark(&long, block, 128) > 2000);
}

#[test]
fn c19_a_character_the_font_cannot_draw_is_refused_naming_only_the_field() {
    // U+10FFFD is a private-use code point no font maps.
    let mut r = recipient();
    r.address_lines = vec!["千代田区\u{10FFFD}".into()];
    let label = Label::new("AN-1", ParcelSize::S60, &r, &sender()).unwrap();
    let e = render(&label, &font(), &watermark()).unwrap_err();
    assert_eq!(
        e,
        LabelError::MissingGlyph {
            field: Field::Address(Side::Recipient)
        }
    );
    assert!(!e.to_string().contains("千代田"));
}

#[test]
fn c23_long_lines_wrap_and_what_cannot_fit_is_refused() {
    // An 80-character address line wraps onto several lines and renders.
    let mut r = recipient();
    r.address_lines = vec!["北".repeat(80), "南".repeat(80)];
    let img = render_ok(&r, &sender());
    assert!(dark(&img, (24, 400, WIDTH_PX - 24, 700), 128) > 5000);
    // Four lines of 80 wide characters for the sender cannot fit in its
    // smaller box: refused with the field, not drawn over the footer.
    let mut s = sender();
    s.address_lines = vec!["東".repeat(80); 4];
    let label = Label::new("AN-1", ParcelSize::S60, &recipient(), &s).unwrap();
    assert_eq!(
        render(&label, &font(), &watermark()).unwrap_err(),
        LabelError::DoesNotFit {
            field: Field::Address(Side::Sender)
        }
    );
    // A sixty-character name wraps onto at most two lines, or is refused.
    let mut r = recipient();
    r.name = "W".repeat(60);
    let label = Label::new("AN-1", ParcelSize::S60, &r, &sender()).unwrap();
    assert_eq!(
        render(&label, &font(), &watermark()).unwrap_err(),
        LabelError::DoesNotFit {
            field: Field::Name(Side::Recipient)
        }
    );
    r.name = "山".repeat(30);
    assert!(
        render(
            &Label::new("AN-1", ParcelSize::S60, &r, &sender()).unwrap(),
            &font(),
            &watermark()
        )
        .is_ok()
    );
}

#[test]
fn c22_the_watermark_covers_the_label_faintly_and_names_the_view() {
    let label = Label::new("AN-0001-2345", ParcelSize::S60, &recipient(), &sender()).unwrap();
    let a = decode(&render(&label, &font(), &watermark()).unwrap());
    let other = Watermark::new("staff-ffff0000", "2026-12-07T09:30Z").unwrap();
    let b = decode(&render(&label, &font(), &other).unwrap());
    // Faint marks (neither white nor text-dark) in every horizontal band
    // of the label, blank margins included.
    for band in 0..8 {
        let y0 = band * HEIGHT_PX / 8;
        let faint = (y0..y0 + HEIGHT_PX / 8)
            .flat_map(|y| (0..WIDTH_PX).map(move |x| (x, y)))
            .filter(|&(x, y)| (190..=250).contains(&a.get_pixel(x, y).0[0]))
            .count();
        assert!(faint > 1000, "band {band}: {faint} faint pixels");
    }
    // The right margin strip holds no label text, only the watermark:
    // never darker than the watermark's ink, and different per view.
    let strip = (WIDTH_PX - 20, 300, WIDTH_PX, 1100);
    assert_eq!(dark(&a, strip, 255 - 56), 0);
    assert!(dark(&a, strip, 250) > 200);
    let differs = (strip.1..strip.3)
        .flat_map(|y| (strip.0..strip.2).map(move |x| (x, y)))
        .filter(|&(x, y)| a.get_pixel(x, y) != b.get_pixel(x, y))
        .count();
    assert!(differs > 100, "{differs}");
    // The QR code stays clean and readable under it.
    assert_eq!(qr_texts(&a), vec!["AN-0001-2345".to_owned()]);
}

#[test]
fn a_font_file_that_is_not_a_font_or_lacks_kana_is_refused() {
    assert_eq!(
        LabelFont::from_bytes(b"not a font", 0).unwrap_err(),
        LabelError::Font { index: 0 }
    );
    assert_eq!(
        LabelFont::from_bytes(font_bytes(), 99).unwrap_err(),
        LabelError::Font { index: 99 }
    );
    // Every face of the collection has kana; a Latin-only font does not.
    if let Ok(dejavu) = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf") {
        assert_eq!(
            LabelFont::from_bytes(&dejavu, 0).unwrap_err(),
            LabelError::FontCoverage
        );
    }
}

fn any_party() -> impl Strategy<Value = PartyInput> {
    (
        any::<String>(),
        any::<String>(),
        "\\PC{0,12}",
        proptest::collection::vec(any::<String>(), 0..6),
        proptest::option::of(any::<String>()),
    )
        .prop_map(
            |(name, postcode, prefecture, address_lines, phone)| PartyInput {
                name,
                postcode,
                prefecture,
                address_lines,
                phone,
            },
        )
}

fn cjk_party() -> impl Strategy<Value = PartyInput> {
    (
        "[\\p{Han}\\p{Hiragana}\\p{Katakana} A-Za-z0-9ー-]{1,60}",
        "[0-9-]{1,10}",
        "[\\p{Han}]{2,4}",
        proptest::collection::vec("[\\p{Han}\\p{Katakana}0-9 -]{0,80}", 1..5),
        proptest::option::of("[0-9-]{0,24}"),
    )
        .prop_map(
            |(name, postcode, prefecture, address_lines, phone)| PartyInput {
                name,
                postcode,
                prefecture,
                address_lines,
                phone,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Arbitrary strings in every field: a label or a clear error, never
    /// a panic; an error never quotes the input.
    #[test]
    fn arbitrary_strings_never_panic(
        waybill in "\\PC{0,40}",
        r in any_party(),
        s in any_party(),
        staff in "\\PC{0,70}",
    ) {
        let f = font();
        let wm = Watermark::new(&staff, "2026-12-06T03:00Z").unwrap_or_else(|_| watermark());
        match Label::new(&waybill, ParcelSize::S100, &r, &s) {
            Ok(label) => {
                if let Err(e) = render(&label, &f, &wm) {
                    let msg = e.to_string();
                    prop_assert!(r.name.trim().chars().count() < 2 || !msg.contains(r.name.trim()));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(r.name.trim().chars().count() < 2 || !msg.contains(r.name.trim()));
            }
        }
    }

    /// Plausible Japanese input renders or is refused as not fitting;
    /// when it renders, the QR code still reads back.
    #[test]
    fn japanese_input_renders_or_is_refused_cleanly(r in cjk_party(), s in cjk_party()) {
        let label = Label::new("AN-42", ParcelSize::S120, &r, &s);
        if let Ok(label) = label {
            match render(&label, &font(), &watermark()) {
                Ok(png) => {
                    let img = decode(&png);
                    prop_assert_eq!(qr_texts(&img), vec!["AN-42".to_owned()]);
                }
                Err(e) => prop_assert!(
                    matches!(e, LabelError::DoesNotFit { .. } | LabelError::MissingGlyph { .. }),
                    "{e}"
                ),
            }
        }
    }
}
