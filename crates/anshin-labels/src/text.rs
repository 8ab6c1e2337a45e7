//! Text: the font (a face of an OpenType file or `.ttc` collection),
//! measuring, wrapping, and drawing glyphs into a greyscale image.
//!
//! Outlines come from skrifa (CFF and TrueType, no hinting) and are filled
//! by ab_glyph_rasterizer as coverage; a pixel is darkened, never
//! lightened, so overlapping glyphs and the watermark compose.

use ab_glyph_rasterizer::{Rasterizer, point};
use image::GrayImage;
use skrifa::instance::{LocationRef, Size};
use skrifa::outline::{DrawSettings, OutlinePen};
use skrifa::{FontRef, GlyphId, MetadataProvider};

use crate::{Field, LabelError};

/// A face of a font file, borrowed from the caller's bytes (the app loads
/// the file once and keeps it).
#[derive(Clone)]
pub struct LabelFont<'a> {
    font: FontRef<'a>,
}

impl std::fmt::Debug for LabelFont<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabelFont").finish_non_exhaustive()
    }
}

/// The characters every label draws itself (labels, digits, the waybill).
const REQUIRED: &str = "0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ〒お届け先ご依頼主様サイズ";

impl<'a> LabelFont<'a> {
    /// Face `index` of `data`: 0 for a single font file; in Debian's
    /// `NotoSansCJK-Regular.ttc`, face 0 is Noto Sans CJK JP (the
    /// Japanese glyph forms). Refused if the face lacks the glyphs the
    /// label's own text needs.
    pub fn from_bytes(data: &'a [u8], index: u32) -> Result<Self, LabelError> {
        let font = FontRef::from_index(data, index).map_err(|_| LabelError::Font { index })?;
        let me = Self { font };
        if REQUIRED.chars().any(|c| me.glyph(c).is_none()) {
            return Err(LabelError::FontCoverage);
        }
        Ok(me)
    }

    fn glyph(&self, c: char) -> Option<GlyphId> {
        self.font.charmap().map(c).filter(|g| *g != GlyphId::NOTDEF)
    }

    /// Every character of `s` has a glyph.
    pub(crate) fn covers(&self, s: &str, field: Field) -> Result<(), LabelError> {
        let cmap = self.font.charmap();
        for c in s.chars() {
            if cmap.map(c).is_none_or(|g| g == GlyphId::NOTDEF) {
                return Err(LabelError::MissingGlyph { field });
            }
        }
        Ok(())
    }

    /// The ascent at `px` pixels per em (the baseline's distance from the
    /// top of a line).
    pub(crate) fn ascent(&self, px: f32) -> f32 {
        self.font
            .metrics(Size::new(px), LocationRef::default())
            .ascent
    }

    /// The width of `s` at `px` pixels per em.
    pub(crate) fn width(&self, s: &str, px: f32) -> f32 {
        let metrics = self
            .font
            .glyph_metrics(Size::new(px), LocationRef::default());
        let cmap = self.font.charmap();
        s.chars()
            .map(|c| {
                cmap.map(c)
                    .and_then(|g| metrics.advance_width(g))
                    .unwrap_or(px)
            })
            .sum()
    }

    /// `s` broken into lines no wider than `max` at `px`: after the last
    /// space that fits where there is one (Latin text), otherwise between
    /// any two characters (Japanese has no spaces).
    pub(crate) fn wrap(&self, s: &str, px: f32, max: f32) -> Vec<String> {
        let metrics = self
            .font
            .glyph_metrics(Size::new(px), LocationRef::default());
        let cmap = self.font.charmap();
        let advance = |c: char| {
            cmap.map(c)
                .and_then(|g| metrics.advance_width(g))
                .unwrap_or(px)
        };
        let mut lines = Vec::new();
        let mut line: Vec<char> = Vec::new();
        let mut width = 0.0;
        for c in s.chars() {
            let w = advance(c);
            if width + w > max && !line.is_empty() {
                let cut = line
                    .iter()
                    .rposition(|&ch| ch == ' ' || ch == '\u{3000}')
                    .filter(|&i| i > 0);
                let rest: Vec<char> = match cut {
                    Some(i) => line.split_off(i).into_iter().skip(1).collect(),
                    None => Vec::new(),
                };
                lines.push(line.iter().collect::<String>().trim_end().to_owned());
                line = rest;
                width = line.iter().map(|&ch| advance(ch)).sum();
                if line.is_empty() && (c == ' ' || c == '\u{3000}') {
                    continue;
                }
            }
            line.push(c);
            width += w;
        }
        if !line.is_empty() {
            lines.push(line.iter().collect::<String>().trim_end().to_owned());
        }
        lines
    }

    /// Draws `s` with its top-left at (`x`, `top`) in `style`. Returns
    /// the width drawn.
    pub(crate) fn draw(
        &self,
        img: &mut GrayImage,
        s: &str,
        (x, top): (f32, f32),
        style: Style,
    ) -> f32 {
        let px = style.px;
        let size = Size::new(px);
        let metrics = self.font.glyph_metrics(size, LocationRef::default());
        let outlines = self.font.outline_glyphs();
        let cmap = self.font.charmap();
        let baseline = top + self.ascent(px);
        let mut pen_x = x;
        for c in s.chars() {
            let Some(gid) = cmap.map(c) else {
                pen_x += px;
                continue;
            };
            if let Some(glyph) = outlines.get(gid) {
                let mut pen = Pen::default();
                let settings = DrawSettings::unhinted(size, LocationRef::default());
                if glyph.draw(settings, &mut pen).is_ok() {
                    pen.close();
                    fill(img, &pen.segments, (pen_x, baseline), style);
                }
            }
            pen_x += metrics.advance_width(gid).unwrap_or(px);
        }
        pen_x - x
    }
}

/// How text is drawn: `px` pixels per em, at darkness `ink` (0 none,
/// 255 black), skipping pixels inside `keep_out` (x0, y0, x1, y1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    pub(crate) px: f32,
    pub(crate) ink: u8,
    pub(crate) keep_out: Option<(u32, u32, u32, u32)>,
}

impl Style {
    /// Black text at `px`.
    pub(crate) fn black(px: f32) -> Self {
        Self {
            px,
            ink: 255,
            keep_out: None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Seg {
    Line([(f32, f32); 2]),
    Quad([(f32, f32); 3]),
    Cubic([(f32, f32); 4]),
}

/// Collects an outline in font coordinates (y up), closing each contour.
#[derive(Debug, Default)]
struct Pen {
    segments: Vec<Seg>,
    start: (f32, f32),
    at: (f32, f32),
}

impl Pen {
    fn close(&mut self) {
        if self.at != self.start {
            self.segments.push(Seg::Line([self.at, self.start]));
        }
        self.at = self.start;
    }
}

impl OutlinePen for Pen {
    fn move_to(&mut self, x: f32, y: f32) {
        self.close();
        self.start = (x, y);
        self.at = (x, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.segments.push(Seg::Line([self.at, (x, y)]));
        self.at = (x, y);
    }
    fn quad_to(&mut self, cx0: f32, cy0: f32, x: f32, y: f32) {
        self.segments.push(Seg::Quad([self.at, (cx0, cy0), (x, y)]));
        self.at = (x, y);
    }
    fn curve_to(&mut self, cx0: f32, cy0: f32, cx1: f32, cy1: f32, x: f32, y: f32) {
        self.segments
            .push(Seg::Cubic([self.at, (cx0, cy0), (cx1, cy1), (x, y)]));
        self.at = (x, y);
    }
    fn close(&mut self) {
        Pen::close(self);
    }
}

/// Rasterises one glyph's segments at pen position (`ox`, `baseline`) and
/// darkens the image with its coverage.
fn fill(img: &mut GrayImage, segments: &[Seg], (ox, baseline): (f32, f32), style: Style) {
    let Style { px, ink, keep_out } = style;
    let points = segments.iter().flat_map(|s| match s {
        Seg::Line(p) => p.to_vec(),
        Seg::Quad(p) => p.to_vec(),
        Seg::Cubic(p) => p.to_vec(),
    });
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for (x, y) in points {
        let (x, y) = (ox + x, baseline - y);
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    // Nothing to draw (a space), or a glyph absurdly larger than its em
    // (a broken font): skip it rather than allocate without bound.
    if x0 > x1 || y0 > y1 || (x1 - x0) > 4.0 * px || (y1 - y0) > 4.0 * px {
        return;
    }
    let (fx, fy) = (x0.floor(), y0.floor());
    let w = (x1.ceil() - fx) as usize + 1;
    let h = (y1.ceil() - fy) as usize + 1;
    let mut r = Rasterizer::new(w, h);
    let p = |(x, y): (f32, f32)| point(ox + x - fx, baseline - y - fy);
    for s in segments {
        match *s {
            Seg::Line([a, b]) => r.draw_line(p(a), p(b)),
            Seg::Quad([a, b, c]) => r.draw_quad(p(a), p(b), p(c)),
            Seg::Cubic([a, b, c, d]) => r.draw_cubic(p(a), p(b), p(c), p(d)),
        }
    }
    let (bx, by) = (fx as i64, fy as i64);
    r.for_each_pixel_2d(|x, y, coverage| {
        let (Ok(ix), Ok(iy)) = (
            u32::try_from(bx + i64::from(x)),
            u32::try_from(by + i64::from(y)),
        ) else {
            return;
        };
        if let Some((kx0, ky0, kx1, ky1)) = keep_out
            && ix >= kx0
            && ix < kx1
            && iy >= ky0
            && iy < ky1
        {
            return;
        }
        if let Some(pixel) = img.get_pixel_mut_checked(ix, iy) {
            let dark = (coverage.clamp(0.0, 1.0) * f32::from(ink)).round() as u8;
            let value = 255 - dark;
            if value < pixel.0[0] {
                pixel.0[0] = value;
            }
        }
    });
}
