//! Uploaded images: identified by their bytes, bounded before decoding,
//! walked for hidden payloads, and re-encoded so that what anshin stores
//! and serves is only pixels.
//!
//! The steps, each against one attack:
//! 1. **Size**: empty or over `media.max_upload_bytes` is refused before
//!    anything reads it.
//! 2. **Type by content** (never the file name or the browser's type):
//!    the `image` crate's signature guess must say JPEG, PNG or WebP. An
//!    SVG (which may carry script), a GIF, a PDF, HTML or text is
//!    [`ImageError::NotAnImage`].
//! 3. **Structure**: the file is walked chunk by chunk (PNG chunks, JPEG
//!    segments, the RIFF container of WebP). Bytes after the image's end
//!    (JPEG+ZIP, PNG+HTML) and markup in a metadata chunk (a comment or
//!    text chunk holding `<script>`, `<html>`, `<?php`) make it a
//!    [`ImageError::Polyglot`]: a file that is also something else. (A
//!    JPEG followed by more JPEGs, as phones write multi-picture files,
//!    is one image.)
//! 4. **Pixels before decoding**: the header's width and height, read
//!    without decoding, must stay within `media.max_side` and
//!    `media.max_pixels`; the decoder then runs with the same limits and
//!    an allocation cap. A 100,000 × 100,000 PNG of a few kilobytes (a
//!    decompression bomb) is [`ImageError::TooManyPixels`] before one
//!    pixel is inflated.
//! 5. **Re-encoding**: the decoded pixels (turned upright by the EXIF
//!    orientation first) are written anew as JPEG (or PNG when the picture
//!    has transparency), scaled to `media.display_side` at most, with a
//!    thumbnail. Nothing of the upload's metadata survives: no EXIF (GPS
//!    position, camera serial), no XMP, no comments, no ICC profile.
//!
//! Decoding is CPU and memory heavy: it runs on the blocking pool, at most
//! `media.max_concurrent_decodes` at once.

use std::io::Cursor;
use std::sync::OnceLock;

use anshin_domain::ImageFormat;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::media::MediaSettings;

/// Why an upload was refused. Each has a sentence for the person in both
/// catalogs (`[image_errors]`), saying what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Empty, or larger than `media.max_upload_bytes`.
    #[error("the file is empty or too large")]
    Size,
    /// Not JPEG, PNG or WebP by its bytes (an SVG, a GIF, a PDF, text).
    #[error("not a JPEG, PNG or WebP image")]
    NotAnImage,
    /// More pixels (or a longer side) than allowed: a decompression bomb,
    /// or simply too large.
    #[error("the image has too many pixels")]
    TooManyPixels,
    /// The header says one format but the data does not decode.
    #[error("the image is damaged")]
    Damaged,
    /// Bytes after the image's end, or markup inside it: a file that is
    /// also something else (a polyglot).
    #[error("the file holds more than an image")]
    Polyglot,
}

impl ImageError {
    pub const ALL: [ImageError; 5] = [
        ImageError::Size,
        ImageError::NotAnImage,
        ImageError::TooManyPixels,
        ImageError::Damaged,
        ImageError::Polyglot,
    ];

    /// Stable code: the API's `error` and the catalog key.
    pub fn code(self) -> &'static str {
        match self {
            ImageError::Size => "image_size",
            ImageError::NotAnImage => "not_an_image",
            ImageError::TooManyPixels => "image_too_many_pixels",
            ImageError::Damaged => "image_damaged",
            ImageError::Polyglot => "image_polyglot",
        }
    }
}

/// One re-encoded picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// What an accepted upload becomes: the display image and its thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub image: Encoded,
    pub thumb: Encoded,
}

/// The formats accepted on upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Jpeg,
    Png,
    WebP,
}

impl Source {
    fn image_format(self) -> image::ImageFormat {
        match self {
            Source::Jpeg => image::ImageFormat::Jpeg,
            Source::Png => image::ImageFormat::Png,
            Source::WebP => image::ImageFormat::WebP,
        }
    }
}

/// Steps 1–5 above, synchronously (call it on the blocking pool, or use
/// [`process_upload`]).
pub fn process(bytes: &[u8], settings: &MediaSettings) -> Result<Processed, ImageError> {
    if bytes.is_empty() || bytes.len() > settings.max_upload_bytes {
        return Err(ImageError::Size);
    }
    let source = match image::guess_format(bytes) {
        Ok(image::ImageFormat::Jpeg) => Source::Jpeg,
        Ok(image::ImageFormat::Png) => Source::Png,
        Ok(image::ImageFormat::WebP) => Source::WebP,
        _ => return Err(ImageError::NotAnImage),
    };
    let metadata = match source {
        Source::Jpeg => jpeg_structure(bytes)?,
        Source::Png => png_structure(bytes)?,
        Source::WebP => webp_structure(bytes)?,
    };
    if metadata.iter().any(|m| holds_markup(m)) {
        return Err(ImageError::Polyglot);
    }
    let reader = || ImageReader::with_format(Cursor::new(bytes), source.image_format());
    let (w, h) = reader().into_dimensions().map_err(decode_error)?;
    if w == 0
        || h == 0
        || w > settings.max_side
        || h > settings.max_side
        || u64::from(w) * u64::from(h) > settings.max_pixels
    {
        return Err(ImageError::TooManyPixels);
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(settings.max_side);
    limits.max_image_height = Some(settings.max_side);
    // RGBA8 of the largest allowed picture, twice (decoders keep a
    // working buffer beside the output).
    limits.max_alloc = Some(settings.max_pixels.saturating_mul(8));
    let mut r = reader();
    r.limits(limits);
    let mut decoder = r.into_decoder().map_err(decode_error)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    img.apply_orientation(orientation);
    let format = if img.color().has_alpha() && source != Source::Jpeg {
        ImageFormat::Png
    } else {
        ImageFormat::Jpeg
    };
    let display = if img.width().max(img.height()) > settings.display_side {
        img.resize(
            settings.display_side,
            settings.display_side,
            image::imageops::FilterType::Triangle,
        )
    } else {
        img
    };
    let thumb = display.thumbnail(settings.thumb_side, settings.thumb_side);
    Ok(Processed {
        image: encode(&display, format)?,
        thumb: encode(&thumb, format)?,
    })
}

fn decode_error(e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::Limits(_) => ImageError::TooManyPixels,
        _ => ImageError::Damaged,
    }
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Result<Encoded, ImageError> {
    let mut out = Vec::new();
    let written = match format {
        ImageFormat::Jpeg => {
            let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
            rgb.write_with_encoder(enc)
        }
        ImageFormat::Png => {
            let rgba = DynamicImage::ImageRgba8(img.to_rgba8());
            let enc = image::codecs::png::PngEncoder::new(&mut out);
            rgba.write_with_encoder(enc)
        }
    };
    written.map_err(|_| ImageError::Damaged)?;
    Ok(Encoded {
        bytes: out,
        format,
        width: img.width(),
        height: img.height(),
    })
}

/// Case-insensitive markers of a document that is not a picture. Long
/// enough that compressed data never holds them by chance; only looked
/// for in metadata (comments, text chunks, EXIF, XMP), never in the
/// compressed pixels.
const MARKUP: [&[u8]; 9] = [
    b"<script",
    b"<html",
    b"<body",
    b"<iframe",
    b"<object",
    b"<embed",
    b"<?php",
    b"<!doctype",
    b"javascript:",
];

fn holds_markup(data: &[u8]) -> bool {
    MARKUP.iter().any(|needle| {
        data.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    })
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at + 2)?;
    Some(usize::from(u16::from_be_bytes([*s.first()?, *s.get(1)?])))
}

fn be32(b: &[u8], at: usize) -> Option<usize> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(s)).ok()
}

fn le32(b: &[u8], at: usize) -> Option<usize> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(s)).ok()
}

/// The metadata segments of a JPEG (everything but the entropy-coded
/// scans), checking that the file ends with the image: after the last
/// EOI only further whole JPEGs may follow (multi-picture files).
fn jpeg_structure(b: &[u8]) -> Result<Vec<&[u8]>, ImageError> {
    let mut meta = Vec::new();
    let mut pos = 0;
    loop {
        pos = jpeg_one(b, pos, &mut meta)?;
        if pos == b.len() {
            return Ok(meta);
        }
        if b.get(pos..pos + 2) != Some(&[0xFF, 0xD8]) {
            return Err(ImageError::Polyglot);
        }
    }
}

/// Walks one JPEG from `start` (its SOI) to just after its EOI.
fn jpeg_one<'a>(b: &'a [u8], start: usize, meta: &mut Vec<&'a [u8]>) -> Result<usize, ImageError> {
    let damaged = ImageError::Damaged;
    if b.get(start..start + 2) != Some(&[0xFF, 0xD8]) {
        return Err(damaged);
    }
    let mut pos = start + 2;
    loop {
        // A marker: 0xFF, optional fill 0xFFs, then the code.
        if b.get(pos) != Some(&0xFF) {
            return Err(damaged);
        }
        while b.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let code = *b.get(pos).ok_or(damaged)?;
        pos += 1;
        match code {
            0xD9 => return Ok(pos),
            0xD0..=0xD7 | 0x01 => {}
            0xD8 | 0x00 => return Err(damaged),
            _ => {
                let len = be16(b, pos).ok_or(damaged)?;
                if len < 2 {
                    return Err(damaged);
                }
                let seg = b.get(pos + 2..pos + len).ok_or(damaged)?;
                pos += len;
                if code == 0xDA {
                    // Entropy-coded data: up to the next marker that is not
                    // a stuffed 0xFF00 or a restart marker.
                    loop {
                        let ff = b
                            .get(pos..)
                            .and_then(|rest| rest.iter().position(|&x| x == 0xFF))
                            .ok_or(damaged)?;
                        pos += ff;
                        match b.get(pos + 1) {
                            Some(0x00 | 0xD0..=0xD7 | 0xFF) => pos += 1,
                            Some(_) => break,
                            None => return Err(damaged),
                        }
                    }
                } else {
                    meta.push(seg);
                }
            }
        }
    }
}

/// The non-pixel chunks of a PNG, checking that nothing follows IEND.
fn png_structure(b: &[u8]) -> Result<Vec<&[u8]>, ImageError> {
    let damaged = ImageError::Damaged;
    let mut meta = Vec::new();
    let mut pos = 8;
    loop {
        let len = be32(b, pos).ok_or(damaged)?;
        let kind = b.get(pos + 4..pos + 8).ok_or(damaged)?;
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(damaged);
        }
        let data_end = pos
            .checked_add(8)
            .and_then(|p| p.checked_add(len))
            .ok_or(damaged)?;
        let data = b.get(pos + 8..data_end).ok_or(damaged)?;
        let next = data_end.checked_add(4).ok_or(damaged)?;
        if next > b.len() {
            return Err(damaged);
        }
        match kind {
            b"IEND" => {
                return if next == b.len() {
                    Ok(meta)
                } else {
                    Err(ImageError::Polyglot)
                };
            }
            b"IDAT" => {}
            _ => meta.push(data),
        }
        pos = next;
    }
}

/// The non-pixel chunks of a WebP, checking that the RIFF container
/// covers the whole file.
fn webp_structure(b: &[u8]) -> Result<Vec<&[u8]>, ImageError> {
    let damaged = ImageError::Damaged;
    let riff = le32(b, 4).ok_or(damaged)?;
    let end = riff.checked_add(8).ok_or(damaged)?;
    if end < b.len() {
        return Err(ImageError::Polyglot);
    }
    if end > b.len() {
        return Err(damaged);
    }
    let mut meta = Vec::new();
    let mut pos = 12;
    while pos < end {
        let kind = b.get(pos..pos + 4).ok_or(damaged)?;
        let len = le32(b, pos + 4).ok_or(damaged)?;
        let data_end = pos
            .checked_add(8)
            .and_then(|p| p.checked_add(len))
            .ok_or(damaged)?;
        let data = b.get(pos + 8..data_end).ok_or(damaged)?;
        if !matches!(kind, b"VP8 " | b"VP8L" | b"ALPH" | b"ANMF") {
            meta.push(data);
        }
        pos = data_end + (len & 1);
    }
    Ok(meta)
}

fn decode_permits(settings: &MediaSettings) -> &'static tokio::sync::Semaphore {
    static PERMITS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| tokio::sync::Semaphore::new(settings.max_concurrent_decodes))
}

/// [`process`] on the blocking pool, at most
/// `media.max_concurrent_decodes` at once.
pub async fn process_upload(
    bytes: Vec<u8>,
    settings: &MediaSettings,
) -> Result<Processed, ImageError> {
    // Checked before waiting for a permit: a refusal costs nothing.
    if bytes.is_empty() || bytes.len() > settings.max_upload_bytes {
        return Err(ImageError::Size);
    }
    let _permit = decode_permits(settings)
        .acquire()
        .await
        .map_err(|_| ImageError::Damaged)?;
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || process(&bytes, &settings))
        .await
        .map_err(|_| ImageError::Damaged)?
}

#[cfg(test)]
pub(crate) mod samples {
    //! Images made in the tests: real encodings from the `image` crate,
    //! then altered by hand the way an attacker would.

    use super::*;

    /// A `w`×`h` JPEG with a gradient (so it compresses like a photo).
    pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut out, 90,
            ))
            .unwrap();
        out
    }

    pub fn png(w: u32, h: u32, alpha: bool) -> Vec<u8> {
        let img = image::RgbaImage::from_fn(w, h, |x, y| {
            image::Rgba([
                (x % 256) as u8,
                (y % 256) as u8,
                80,
                if alpha { 128 } else { 255 },
            ])
        });
        let mut out = Vec::new();
        let dynamic = if alpha {
            DynamicImage::ImageRgba8(img)
        } else {
            DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(img).to_rgb8())
        };
        dynamic
            .write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))
            .unwrap();
        out
    }

    pub fn webp(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_fn(w, h, |x, y| image::Rgba([x as u8, y as u8, 9, 255]));
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(img)
            .write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))
            .unwrap();
        out
    }

    /// The latitude the GPS tag of [`with_gps_exif`] holds: 35° 39' 31"
    /// (the rational 35/1, 39/1, 31/1), as its bytes appear in the file.
    pub const GPS_LATITUDE_BYTES: [u8; 24] = [
        0, 0, 0, 35, 0, 0, 0, 1, 0, 0, 0, 39, 0, 0, 0, 1, 0, 0, 0, 31, 0, 0, 0, 1,
    ];

    /// `jpeg` with an EXIF APP1 segment, written by hand (TIFF big-endian):
    /// IFD0 holds a GPSInfo pointer; the GPS IFD holds GPSLatitudeRef "N"
    /// and GPSLatitude 35/1, 39/1, 31/1, and a camera serial in IFD0's
    /// ImageDescription "SERIAL-12345".
    pub fn with_gps_exif(jpeg: &[u8]) -> Vec<u8> {
        let mut tiff: Vec<u8> = Vec::new();
        // Header: "MM", 42, offset of IFD0 = 8.
        tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
        // IFD0 at 8: 2 entries.
        tiff.extend_from_slice(&[0, 2]);
        // 0x010E ImageDescription, ASCII, count 13, offset 38.
        tiff.extend_from_slice(&[0x01, 0x0E, 0, 2, 0, 0, 0, 13, 0, 0, 0, 38]);
        // 0x8825 GPSInfo, LONG, count 1, value = offset of GPS IFD (52).
        tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 52]);
        // Next IFD: none.
        tiff.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(tiff.len(), 38);
        tiff.extend_from_slice(b"SERIAL-12345\0");
        tiff.push(0); // pad to 52
        assert_eq!(tiff.len(), 52);
        // GPS IFD at 52: 2 entries.
        tiff.extend_from_slice(&[0, 2]);
        // 0x0001 GPSLatitudeRef, ASCII, count 2, "N\0" inline.
        tiff.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
        // 0x0002 GPSLatitude, RATIONAL, count 3, offset 82.
        tiff.extend_from_slice(&[0, 2, 0, 5, 0, 0, 0, 3, 0, 0, 0, 82]);
        tiff.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(tiff.len(), 82);
        tiff.extend_from_slice(&GPS_LATITUDE_BYTES);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let len = u16::try_from(app1.len() + 2).unwrap().to_be_bytes();
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1, len[0], len[1]];
        out.extend_from_slice(&app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    /// A PNG whose IHDR declares `w`×`h` and whose IDAT is a few bytes of
    /// a deflate stream: the shape of a decompression bomb (the real ones
    /// inflate gigabytes of zeros; the header check must stop it first).
    pub fn png_bomb(w: u32, h: u32) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend(chunk(b"IHDR", &ihdr));
        // zlib header + a stored empty block: tiny, "valid" enough to read.
        out.extend(chunk(
            b"IDAT",
            &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
        ));
        out.extend(chunk(b"IEND", &[]));
        out
    }

    pub fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        // The CRC is not checked by the structure walk; the decoder checks it.
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    /// A PNG with a tEXt chunk inserted before IEND.
    pub fn png_with_text(png: &[u8], text: &[u8]) -> Vec<u8> {
        let iend = png.len() - 12;
        let mut out = png[..iend].to_vec();
        let mut data = b"Comment\0".to_vec();
        data.extend_from_slice(text);
        out.extend(chunk(b"tEXt", &data));
        out.extend_from_slice(&png[iend..]);
        out
    }

    /// The smallest ZIP archive holding one file `a.js` (stored).
    pub fn zip() -> Vec<u8> {
        let mut z = b"PK\x03\x04\x0a\0\0\0\0\0\0\0\0\0".to_vec();
        z.extend_from_slice(&[0; 12]);
        z.extend_from_slice(&[4, 0, 0, 0]);
        z.extend_from_slice(b"a.js");
        z.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\0\x01\0\0\0\0\0\0\0\0\0\0\0");
        z
    }
}

#[cfg(test)]
mod tests {
    use super::samples::*;
    use super::*;

    fn settings() -> MediaSettings {
        MediaSettings {
            max_upload_bytes: 2 * 1024 * 1024,
            max_pixels: 4_000_000,
            max_side: 4_000,
            display_side: 800,
            thumb_side: 200,
            ..MediaSettings::default()
        }
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn jpeg_png_and_webp_are_accepted_and_re_encoded() {
        let s = settings();
        let p = process(&jpeg(1200, 900), &s).unwrap();
        assert_eq!((p.image.width, p.image.height), (800, 600));
        assert_eq!(p.image.format, ImageFormat::Jpeg);
        assert_eq!((p.thumb.width, p.thumb.height), (200, 150));
        assert_eq!(
            image::guess_format(&p.thumb.bytes).unwrap(),
            image::ImageFormat::Jpeg
        );
        let p = process(&png(300, 200, true), &s).unwrap();
        assert_eq!(p.image.format, ImageFormat::Png, "transparency is kept");
        assert_eq!((p.image.width, p.image.height), (300, 200));
        let p = process(&png(300, 200, false), &s).unwrap();
        assert_eq!(p.image.format, ImageFormat::Jpeg);
        let p = process(&webp(64, 48), &s).unwrap();
        assert_eq!((p.image.width, p.image.height), (64, 48));
    }

    #[test]
    fn c13_exif_and_gps_are_gone_from_what_is_kept() {
        let original = with_gps_exif(&jpeg(320, 240));
        // The sample really carries them, and still decodes.
        assert!(contains(&original, &GPS_LATITUDE_BYTES));
        assert!(contains(&original, b"Exif\0\0"));
        assert!(contains(&original, b"SERIAL-12345"));
        let p = process(&original, &settings()).unwrap();
        for kept in [&p.image.bytes, &p.thumb.bytes] {
            assert!(!contains(kept, &GPS_LATITUDE_BYTES));
            assert!(!contains(kept, b"Exif"));
            assert!(!contains(kept, b"SERIAL-12345"));
            assert!(!contains(kept, &[0xFF, 0xE1]), "no APP1 segment at all");
        }
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_decoding() {
        let s = settings();
        for (w, h) in [
            (100_000, 100_000),
            (4_001, 10),
            (2_500, 2_500),
            (2_000_000_000, 1),
        ] {
            let bomb = png_bomb(w, h);
            assert!(bomb.len() < 100);
            assert_eq!(
                process(&bomb, &s),
                Err(ImageError::TooManyPixels),
                "{w}x{h}"
            );
        }
        // Just inside the limits, the same shape is merely damaged.
        assert_eq!(
            process(&png_bomb(1_000, 1_000), &s),
            Err(ImageError::Damaged)
        );
    }

    #[test]
    fn polyglots_are_refused() {
        let s = settings();
        let mut jpeg_zip = jpeg(64, 64);
        jpeg_zip.extend(zip());
        assert_eq!(
            process(&jpeg_zip, &s),
            Err(ImageError::Polyglot),
            "JPEG+ZIP"
        );
        let mut png_html = png(32, 32, false);
        png_html.extend_from_slice(b"<html><script>alert(1)</script></html>");
        assert_eq!(
            process(&png_html, &s),
            Err(ImageError::Polyglot),
            "PNG+HTML"
        );
        let png_text = png_with_text(
            &png(32, 32, false),
            b"<SCRIPT>alert(document.cookie)</SCRIPT>",
        );
        assert_eq!(
            process(&png_text, &s),
            Err(ImageError::Polyglot),
            "markup in tEXt"
        );
        // HTML behind a PNG signature: not a PNG at all.
        let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
        fake.extend_from_slice(b"<html><body><script>alert(1)</script></body></html>");
        assert_eq!(process(&fake, &s), Err(ImageError::Damaged));
        // A JPEG comment holding a script.
        let j = jpeg(32, 32);
        let script = b"<script>alert(1)</script>";
        let mut com = vec![0xFF, 0xD8, 0xFF, 0xFE, 0x00, 2 + script.len() as u8];
        com.extend_from_slice(script);
        com.extend_from_slice(&j[2..]);
        assert_eq!(
            process(&com, &s),
            Err(ImageError::Polyglot),
            "markup in COM"
        );
        // GIF/JS: a GIF header that is also JavaScript.
        let gifjs = b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=alert(1)//;".to_vec();
        assert_eq!(process(&gifjs, &s), Err(ImageError::NotAnImage), "GIF/JS");
        // A multi-picture JPEG (two JPEGs back to back) is one image.
        let mut mpo = jpeg(64, 64);
        mpo.extend(jpeg(16, 16));
        assert!(process(&mpo, &s).is_ok());
    }

    #[test]
    fn non_images_are_refused() {
        let s = settings();
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>"#;
        for bad in [
            &svg[..],
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            b"%PDF-1.7\n1 0 obj",
            b"hello, world",
            b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
            b"\x00\x00\x01\x00",
        ] {
            assert_eq!(process(bad, &s), Err(ImageError::NotAnImage), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(process(b"", &s), Err(ImageError::Size));
        let mut huge = jpeg(16, 16);
        huge.resize(s.max_upload_bytes + 1, 0);
        assert_eq!(process(&huge, &s), Err(ImageError::Size));
        // Cut short: damaged.
        let j = jpeg(64, 64);
        assert_eq!(process(&j[..j.len() / 2], &s), Err(ImageError::Damaged));
    }

    #[test]
    fn every_image_error_has_a_sentence_in_both_languages() {
        let c = crate::i18n::Catalogs::load().unwrap();
        for e in ImageError::ALL {
            for lang in [crate::i18n::Lang::Ja, crate::i18n::Lang::En] {
                assert!(
                    c.get(lang).image_errors.contains_key(e.code()),
                    "{lang:?} {e:?}"
                );
            }
        }
    }
}
