//! Images for the tests, made with the `image` crate and then altered by
//! hand the way an attacker would: a JPEG carrying GPS EXIF, a PNG
//! decompression bomb, polyglots (JPEG+ZIP, PNG+HTML, markup in a text
//! chunk). The same shapes as `anshin_core::shops::images`'s unit tests,
//! here for the HTTP tests.
// Test support: a panic with a message is how a fixture reports a bug.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use image::DynamicImage;

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
