//! The label's layout: an A6 thermal label (104 × 148 mm) at 203 dpi,
//! the common resolution of label printers.
//!
//! ```text
//! +--------------------------------------+
//! | 伝票番号 Waybill        +-----------+ |
//! | AN-0001-2345            |  QR code  | |
//! | サイズ Size 60          +-----------+ |
//! |--------------------------------------|
//! | お届け先 To                           |
//! | 〒100-0001                            |
//! | 東京都千代田区千代田1-1 (wrapped)     |
//! | 山田 花子 様                          |
//! | TEL 090-1234-5678                     |
//! |--------------------------------------|
//! | ご依頼主 From (smaller)               |
//! |--------------------------------------|
//! | AN-0001-2345                     60  |
//! +--------------------------------------+
//! ```
//! Every box has a fixed height. A block that does not fit at its normal
//! size is tried at smaller sizes; if it still does not fit it is refused
//! ([`LabelError::DoesNotFit`]), never cut off or drawn over another.
//! Then the watermark is drawn faint over everything but the QR code.

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{GrayImage, ImageEncoder, Luma};
use qrcode::{Color, EcLevel, QrCode};

use crate::text::{LabelFont, Style};
use crate::{Field, Label, LabelError, Party, Side, Watermark};

/// 104 mm at 203 dpi.
pub const WIDTH_PX: u32 = 832;
/// 148 mm at 203 dpi.
pub const HEIGHT_PX: u32 = 1184;

const MARGIN: f32 = 24.0;
const TEXT_WIDTH: f32 = WIDTH_PX as f32 - 2.0 * MARGIN;
/// The QR code's square, quiet zone included (4 modules each side).
const QR_BOX: u32 = 232;
/// Darkness of the watermark (0–255): visible on paper and in a photo,
/// never hiding the text it crosses (it only darkens white).
pub(crate) const WATERMARK_INK: u8 = 56;
const WATERMARK_PX: f32 = 20.0;
const WATERMARK_ROW: f32 = 64.0;

/// One block's sizes: the first that fits wins.
struct Sizes {
    heading: f32,
    postcode: f32,
    address: &'static [f32],
    name: &'static [f32],
    phone: f32,
    /// The block's height in pixels.
    height: f32,
}

const RECIPIENT: Sizes = Sizes {
    heading: 24.0,
    postcode: 34.0,
    address: &[36.0, 32.0, 28.0, 24.0],
    name: &[52.0, 44.0, 36.0, 30.0],
    phone: 30.0,
    height: 560.0,
};

const SENDER: Sizes = Sizes {
    heading: 20.0,
    postcode: 22.0,
    address: &[24.0, 22.0, 20.0, 18.0],
    name: &[28.0, 24.0, 22.0, 18.0],
    phone: 22.0,
    height: 228.0,
};

/// A line of text placed in a block.
struct Line {
    text: String,
    px: f32,
    gap_before: f32,
}

/// Lays one party out within `sizes.height`, or refuses.
fn party_lines(
    font: &LabelFont<'_>,
    p: &Party,
    side: Side,
    heading: &str,
    sizes: &Sizes,
) -> Result<Vec<Line>, LabelError> {
    font.covers(&p.name, Field::Name(side))?;
    font.covers(&p.postcode, Field::Postcode(side))?;
    font.covers(&p.prefecture, Field::Prefecture(side))?;
    for l in &p.address_lines {
        font.covers(l, Field::Address(side))?;
    }
    if let Some(ph) = &p.phone {
        font.covers(ph, Field::Phone(side))?;
    }
    let lead = 1.25;
    let fixed = sizes.heading * lead + sizes.postcode * lead + sizes.phone * lead + 3.0 * 8.0;
    // The prefecture leads the first address line, as Japanese addresses
    // are written.
    let mut address: Vec<String> = p.address_lines.clone();
    if let Some(first) = address.first_mut() {
        *first = format!("{}{}", p.prefecture, first);
    }
    let honorific = match side {
        Side::Recipient => " 様",
        Side::Sender => "",
    };
    let name = format!("{}{}", p.name, honorific);
    // Each combination of sizes, largest first.
    for (i, &apx) in sizes.address.iter().enumerate() {
        let npx = sizes.name.get(i).copied().unwrap_or(apx);
        let alines: Vec<String> = address
            .iter()
            .flat_map(|l| font.wrap(l, apx, TEXT_WIDTH))
            .collect();
        let nlines = font.wrap(&name, npx, TEXT_WIDTH);
        let used = fixed + alines.len() as f32 * apx * lead + nlines.len() as f32 * npx * lead;
        if used > sizes.height || nlines.len() > 2 {
            continue;
        }
        let mut out = vec![
            Line {
                text: heading.to_owned(),
                px: sizes.heading,
                gap_before: 0.0,
            },
            Line {
                text: format!("〒{}", p.postcode),
                px: sizes.postcode,
                gap_before: 8.0,
            },
        ];
        out.extend(alines.into_iter().map(|text| Line {
            text,
            px: apx,
            gap_before: 0.0,
        }));
        let mut first = true;
        out.extend(nlines.into_iter().map(|text| {
            let gap = if first { 8.0 } else { 0.0 };
            first = false;
            Line {
                text,
                px: npx,
                gap_before: gap,
            }
        }));
        if let Some(ph) = &p.phone {
            out.push(Line {
                text: format!("TEL {ph}"),
                px: sizes.phone,
                gap_before: 8.0,
            });
        }
        return Ok(out);
    }
    // Which part is to blame: the name if it alone is too long for two
    // lines at the smallest size, else the address.
    let smallest = sizes.name.last().copied().unwrap_or(18.0);
    if font.wrap(&name, smallest, TEXT_WIDTH).len() > 2 {
        Err(LabelError::DoesNotFit {
            field: Field::Name(side),
        })
    } else {
        Err(LabelError::DoesNotFit {
            field: Field::Address(side),
        })
    }
}

/// The first of `sizes` at which `s` is no wider than `max` (else the
/// last: the waybill number is capped, so the smallest always fits).
fn fit(font: &LabelFont<'_>, s: &str, sizes: &[f32], max: f32) -> f32 {
    sizes
        .iter()
        .copied()
        .find(|&px| font.width(s, px) <= max)
        .or_else(|| sizes.last().copied())
        .unwrap_or(16.0)
}

fn draw_lines(font: &LabelFont<'_>, img: &mut GrayImage, lines: &[Line], top: f32) {
    let mut y = top;
    for l in lines {
        y += l.gap_before;
        font.draw(img, &l.text, (MARGIN, y), Style::black(l.px));
        y += l.px * 1.25;
    }
}

fn rule(img: &mut GrayImage, y: u32, thickness: u32) {
    for yy in y..y.saturating_add(thickness) {
        for x in (MARGIN as u32)..(WIDTH_PX - MARGIN as u32) {
            if let Some(p) = img.get_pixel_mut_checked(x, yy) {
                *p = Luma([0]);
            }
        }
    }
}

/// The QR code of the waybill number in the top-right box; returns the
/// box (x0, y0, x1, y1).
fn draw_qr(img: &mut GrayImage, waybill: &str) -> Result<(u32, u32, u32, u32), LabelError> {
    let code = QrCode::with_error_correction_level(waybill.as_bytes(), EcLevel::M)
        .map_err(|_| LabelError::Qr)?;
    let modules = u32::try_from(code.width()).map_err(|_| LabelError::Qr)?;
    let scale = QR_BOX / (modules + 8);
    if scale < 3 {
        return Err(LabelError::Qr);
    }
    let x0 = WIDTH_PX - MARGIN as u32 - QR_BOX;
    let y0 = MARGIN as u32;
    let side = scale * (modules + 8);
    let colors = code.to_colors();
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let i = u32::try_from(i).map_err(|_| LabelError::Qr)?;
        let (mx, my) = (i % modules, i / modules);
        let (px, py) = (x0 + (mx + 4) * scale, y0 + (my + 4) * scale);
        for dy in 0..scale {
            for dx in 0..scale {
                if let Some(p) = img.get_pixel_mut_checked(px + dx, py + dy) {
                    *p = Luma([0]);
                }
            }
        }
    }
    Ok((x0, y0, x0 + side, y0 + side))
}

/// The watermark, repeated in staggered rows over the whole label except
/// the QR code: a photo of any part of the label names the view.
fn draw_watermark(
    font: &LabelFont<'_>,
    img: &mut GrayImage,
    w: &Watermark,
    keep_out: (u32, u32, u32, u32),
) {
    let text = format!("{}   ", w.text);
    let step = font.width(&text, WATERMARK_PX).max(WATERMARK_PX);
    let mut row = 0u32;
    let mut y = 4.0;
    while y < HEIGHT_PX as f32 {
        let mut x = if row.is_multiple_of(2) {
            0.0
        } else {
            -step / 2.0
        };
        while x < WIDTH_PX as f32 {
            let style = Style {
                px: WATERMARK_PX,
                ink: WATERMARK_INK,
                keep_out: Some(keep_out),
            };
            font.draw(img, &text, (x, y), style);
            x += step;
        }
        y += WATERMARK_ROW;
        row += 1;
    }
}

/// Renders `label` as a greyscale PNG of [`WIDTH_PX`] × [`HEIGHT_PX`] with
/// `font`, watermarked with `watermark`.
pub fn render(
    label: &Label,
    font: &LabelFont<'_>,
    watermark: &Watermark,
) -> Result<Vec<u8>, LabelError> {
    let img = render_image(label, font, watermark)?;
    let mut png = Vec::with_capacity(64 * 1024);
    PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Adaptive)
        .write_image(
            img.as_raw(),
            WIDTH_PX,
            HEIGHT_PX,
            image::ExtendedColorType::L8,
        )
        .map_err(|_| LabelError::Encode)?;
    Ok(png)
}

pub(crate) fn render_image(
    label: &Label,
    font: &LabelFont<'_>,
    watermark: &Watermark,
) -> Result<GrayImage, LabelError> {
    // Lay everything out first: a refusal costs no drawing.
    let recipient = party_lines(
        font,
        &label.recipient,
        Side::Recipient,
        "お届け先  To",
        &RECIPIENT,
    )?;
    let sender = party_lines(font, &label.sender, Side::Sender, "ご依頼主  From", &SENDER)?;

    let mut img = GrayImage::from_pixel(WIDTH_PX, HEIGHT_PX, Luma([255]));
    let qr = draw_qr(&mut img, &label.waybill)?;

    // Header: the waybill number and the size, left of the QR code.
    let m = MARGIN;
    font.draw(
        &mut img,
        "伝票番号  Waybill",
        (m, m + 8.0),
        Style::black(22.0),
    );
    let beside_qr = WIDTH_PX as f32 - 3.0 * m - QR_BOX as f32;
    let waybill_px = fit(
        font,
        &label.waybill,
        &[40.0, 32.0, 26.0, 20.0, 16.0],
        beside_qr,
    );
    font.draw(
        &mut img,
        &label.waybill,
        (m, m + 44.0),
        Style::black(waybill_px),
    );
    font.draw(&mut img, "サイズ  Size", (m, m + 120.0), Style::black(22.0));
    font.draw(
        &mut img,
        label.size.as_str(),
        (m, m + 150.0),
        Style::black(48.0),
    );

    let top = qr.3.max(260) + 8;
    rule(&mut img, top, 4);
    draw_lines(font, &mut img, &recipient, top as f32 + 16.0);
    let sender_top = top as f32 + 16.0 + RECIPIENT.height;
    rule(&mut img, sender_top as u32 - 8, 2);
    draw_lines(font, &mut img, &sender, sender_top + 4.0);

    // Footer: the waybill number again, and the size.
    let footer = HEIGHT_PX - 72;
    rule(&mut img, footer, 4);
    let size_w = font.width(label.size.as_str(), 36.0);
    let footer_px = fit(
        font,
        &label.waybill,
        &[30.0, 24.0, 20.0, 16.0],
        TEXT_WIDTH - size_w - m,
    );
    font.draw(
        &mut img,
        &label.waybill,
        (m, footer as f32 + 14.0),
        Style::black(footer_px),
    );
    font.draw(
        &mut img,
        label.size.as_str(),
        (WIDTH_PX as f32 - m - size_w, footer as f32 + 10.0),
        Style::black(36.0),
    );

    draw_watermark(font, &mut img, watermark, qr);
    Ok(img)
}
