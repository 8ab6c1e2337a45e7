//! The label render time (issue 15, acceptance 7, render part; C22, C23):
//! `anshin_labels::render` of a realistic Japanese label with Debian's
//! Noto Sans CJK (face 0 of the `.ttc`), layout + glyphs + QR code +
//! watermark + PNG encoding, p50 and p99 over N renders. The share of
//! PNG encoding alone is printed too. The audit
//! write of a label view is added to this figure when the label view is
//! wired (ADR 0017); this bench knows no database. Not a test: it prints
//! figures for `bench/README.md`.
//!
//! `cargo bench -p anshin-labels --bench render [-- RENDERS]`
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use anshin_labels::{Label, LabelFont, ParcelSize, PartyInput, Watermark, render};

const NOTO: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

fn party(name: &str, pref: &str, lines: &[&str]) -> PartyInput {
    PartyInput {
        name: name.into(),
        postcode: "100-0001".into(),
        prefecture: pref.into(),
        address_lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        phone: Some("090-1234-5678".into()),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let renders: usize = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(300);
    let t = Instant::now();
    let bytes = std::fs::read(NOTO).expect("fonts-noto-cjk (scripts/setup --test)");
    let font = LabelFont::from_bytes(&bytes, 0).unwrap();
    let load = t.elapsed();
    let recipient = party(
        "山田 花子",
        "東京都",
        &["千代田区千代田1-1", "皇居前マンション1101号室"],
    );
    let sender = party(
        "佐藤 太郎",
        "大阪府",
        &["大阪市北区梅田1-1-3 大阪駅前第3ビル"],
    );
    let label = Label::new("AN-0001-2345-6789", ParcelSize::S80, &recipient, &sender).unwrap();
    // Warm-up: page the font's tables in.
    for i in 0..10 {
        let wm = Watermark::new("staff-0192f3a1", &format!("2026-12-06T03:{i:02}Z")).unwrap();
        black_box(render(&label, &font, &wm).unwrap());
    }
    let mut times = Vec::with_capacity(renders);
    let mut size = 0;
    for i in 0..renders {
        // A new watermark per view, as the console makes.
        let wm = Watermark::new("staff-0192f3a1", &format!("2026-12-06T03:00:{i:04}Z")).unwrap();
        let t = Instant::now();
        let png = render(black_box(&label), &font, &wm).unwrap();
        times.push(t.elapsed());
        size = png.len();
        black_box(png);
    }
    times.sort();
    // The share of PNG encoding: the last label decoded, then encoded
    // again with the renderer's settings (fast deflate, adaptive filter).
    let last = render(
        &label,
        &font,
        &Watermark::new("staff-0192f3a1", "x").unwrap(),
    )
    .unwrap();
    let img = image::load_from_memory(&last).unwrap().to_luma8();
    let mut encode = Vec::with_capacity(renders);
    for _ in 0..renders.min(100) {
        use image::ImageEncoder as _;
        let t = Instant::now();
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new_with_quality(
            &mut out,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Adaptive,
        )
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::L8,
        )
        .unwrap();
        encode.push(t.elapsed());
        black_box(out);
    }
    encode.sort();
    let p50 = percentile(&times, 0.50);
    let p99 = percentile(&times, 0.99);
    println!("label render (A6, 832x1184 px, 8-bit grey PNG), {renders} renders");
    println!("font load (read + parse face 0 of the .ttc): {load:?} (once per process)");
    println!("render p50: {:8.2} ms", p50.as_secs_f64() * 1e3);
    println!("render p99: {:8.2} ms", p99.as_secs_f64() * 1e3);
    println!(
        "render max: {:8.2} ms",
        times.last().unwrap().as_secs_f64() * 1e3
    );
    let e50 = percentile(&encode, 0.50);
    println!("PNG size:   {size} bytes");
    println!(
        "PNG encoding alone p50: {:6.2} ms ({:.0}% of the render p50)",
        e50.as_secs_f64() * 1e3,
        100.0 * e50.as_secs_f64() / p50.as_secs_f64()
    );
}
