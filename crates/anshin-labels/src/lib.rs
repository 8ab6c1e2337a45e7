//! anshin-labels: renders a shipping label as a PNG image (issue 15, C19,
//! C23; ADR 0017).
//!
//! It exists so that the recipient's and the sender's name, address and
//! phone reach the shipping centre's browser only as pixels, never as
//! text in HTML, JSON or the DOM: a label is drawn here on the server, with
//! Japanese text from the font the caller gives (Debian's Noto Sans CJK,
//! `.ttc` collections included), the waybill number as a QR code, and a
//! faint watermark naming the member of staff and the time of the view,
//! repeated across the whole image so that a photographed or copied label
//! can be traced to the view that produced it.
//!
//! What it must never do:
//! * do I/O: the font arrives as bytes, the label as values, the PNG
//!   leaves as bytes (the app loads the font once, writes the audit entry
//!   and serves the image);
//! * know anything about the app (shipments, staff, audit);
//! * panic, on any input: every field is capped, checked for control and
//!   invisible formatting characters and for glyphs the font lacks, and
//!   laid out within its box or refused with a [`LabelError`];
//! * put personal data in an error or a `Debug` output: errors name the
//!   field, never its value; [`PartyInput`] and [`Label`] redact.
//!
//! A character the font has no glyph for is an error
//! ([`LabelError::MissingGlyph`]), not a box or a blank: a label that
//! silently drops a character of an address can send a parcel to the
//! wrong door.
//!
//! ```no_run
//! use anshin_labels::{Label, LabelFont, ParcelSize, PartyInput, Watermark, render};
//! let bytes = std::fs::read("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")?;
//! let font = LabelFont::from_bytes(&bytes, 0)?;
//! let party = |name: &str| PartyInput {
//!     name: name.into(),
//!     postcode: "100-0001".into(),
//!     prefecture: "東京都".into(),
//!     address_lines: vec!["千代田区千代田1-1".into()],
//!     phone: Some("03-1234-5678".into()),
//! };
//! let label = Label::new("AN-0001-2345", ParcelSize::S60, &party("山田 花子"), &party("佐藤 太郎"))?;
//! let watermark = Watermark::new("staff-0192", "2026-12-06 03:00Z")?;
//! let png: Vec<u8> = render(&label, &font, &watermark)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod layout;
mod text;

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

pub use layout::{HEIGHT_PX, WIDTH_PX, render};
pub use text::LabelFont;

/// Limits on each field, in characters: generous for any real Japanese
/// address, and small enough that a hostile input costs nothing.
pub const MAX_NAME: usize = 60;
pub const MAX_POSTCODE: usize = 10;
pub const MAX_PREFECTURE: usize = 10;
pub const MAX_ADDRESS_LINE: usize = 80;
pub const MAX_ADDRESS_LINES: usize = 4;
pub const MAX_PHONE: usize = 24;
pub const MAX_WAYBILL: usize = 32;
pub const MAX_WATERMARK_PART: usize = 64;

/// Why a label was not made. The message names the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("the font could not be read (face {index} of the file)")]
    Font { index: u32 },
    #[error("the font lacks the basic Latin and kana glyphs a label needs")]
    FontCoverage,
    #[error("the waybill number must be 1 to {MAX_WAYBILL} ASCII letters, digits or hyphens")]
    Waybill,
    #[error("{field} is empty")]
    Empty { field: Field },
    #[error("{field} is too long (at most {max} characters)")]
    TooLong { field: Field, max: usize },
    #[error("{field} has more than {MAX_ADDRESS_LINES} lines")]
    TooManyLines { field: Field },
    #[error("{field} contains a control or invisible formatting character")]
    Control { field: Field },
    #[error("{field} contains a character the label font cannot draw")]
    MissingGlyph { field: Field },
    #[error("{field} does not fit in its place on the label")]
    DoesNotFit { field: Field },
    #[error("the watermark must be printable ASCII, 1 to {MAX_WATERMARK_PART} characters per part")]
    Watermark,
    #[error("the QR code of the waybill number could not be made")]
    Qr,
    #[error("the PNG could not be encoded")]
    Encode,
}

/// Which side of the label a party is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Recipient,
    Sender,
}

/// A field of the label, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name(Side),
    Postcode(Side),
    Prefecture(Side),
    Address(Side),
    Phone(Side),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, side) = match self {
            Field::Name(s) => ("name", s),
            Field::Postcode(s) => ("postcode", s),
            Field::Prefecture(s) => ("prefecture", s),
            Field::Address(s) => ("address", s),
            Field::Phone(s) => ("phone", s),
        };
        let side = match side {
            Side::Recipient => "recipient",
            Side::Sender => "sender",
        };
        write!(f, "the {side}'s {what}")
    }
}

/// The parcel size classes of Japanese carriers (sum of the three sides,
/// in centimetres).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParcelSize {
    S60,
    S80,
    S100,
    S120,
    S140,
    S160,
}

impl ParcelSize {
    pub fn as_str(self) -> &'static str {
        match self {
            ParcelSize::S60 => "60",
            ParcelSize::S80 => "80",
            ParcelSize::S100 => "100",
            ParcelSize::S120 => "120",
            ParcelSize::S140 => "140",
            ParcelSize::S160 => "160",
        }
    }
}

/// One party's data as the caller has it (decrypted from the shipment's
/// sealed snapshot just before rendering). Personal data: `Debug` redacts
/// and the strings are wiped on drop.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct PartyInput {
    pub name: String,
    pub postcode: String,
    pub prefecture: String,
    /// City, street and building, one entry per line as entered; long
    /// lines wrap on the label.
    pub address_lines: Vec<String>,
    pub phone: Option<String>,
}

impl fmt::Debug for PartyInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartyInput")
            .field("name", &"<redacted>")
            .field("address_lines", &self.address_lines.len())
            .field("phone", &self.phone.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// A party whose fields passed the checks that need no font.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Party {
    pub(crate) name: String,
    pub(crate) postcode: String,
    pub(crate) prefecture: String,
    pub(crate) address_lines: Vec<String>,
    pub(crate) phone: Option<String>,
}

/// A label ready to render: the waybill number, the parcel size and both
/// parties, each field checked. `Debug` shows the waybill number and the
/// size only.
#[derive(Clone)]
pub struct Label {
    pub(crate) waybill: String,
    pub(crate) size: ParcelSize,
    pub(crate) recipient: Party,
    pub(crate) sender: Party,
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Label")
            .field("waybill", &self.waybill)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Control characters, and invisible characters that could hide or
/// reorder text (zero-width, bidirectional overrides, BOM).
fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Trims, and checks emptiness, length and characters.
fn field(raw: &str, field: Field, max: usize, required: bool) -> Result<String, LabelError> {
    // Count before trimming too: a megabyte of spaces is refused as such,
    // without walking it twice.
    if raw.chars().take(max.saturating_mul(4) + 1).count() > max.saturating_mul(4) {
        return Err(LabelError::TooLong { field, max });
    }
    let s = raw.trim();
    if s.chars().any(is_forbidden) {
        return Err(LabelError::Control { field });
    }
    if required && s.is_empty() {
        return Err(LabelError::Empty { field });
    }
    if s.chars().count() > max {
        return Err(LabelError::TooLong { field, max });
    }
    Ok(s.to_owned())
}

impl Party {
    fn parse(input: &PartyInput, side: Side) -> Result<Self, LabelError> {
        let name = field(&input.name, Field::Name(side), MAX_NAME, true)?;
        let postcode = field(&input.postcode, Field::Postcode(side), MAX_POSTCODE, true)?;
        let prefecture = field(
            &input.prefecture,
            Field::Prefecture(side),
            MAX_PREFECTURE,
            true,
        )?;
        if input.address_lines.len() > MAX_ADDRESS_LINES {
            return Err(LabelError::TooManyLines {
                field: Field::Address(side),
            });
        }
        let mut address_lines = Vec::with_capacity(input.address_lines.len());
        for line in &input.address_lines {
            let line = field(line, Field::Address(side), MAX_ADDRESS_LINE, false)?;
            if !line.is_empty() {
                address_lines.push(line);
            }
        }
        if address_lines.is_empty() {
            return Err(LabelError::Empty {
                field: Field::Address(side),
            });
        }
        let phone = match &input.phone {
            Some(p) => {
                let p = field(p, Field::Phone(side), MAX_PHONE, false)?;
                (!p.is_empty()).then_some(p)
            }
            None => None,
        };
        Ok(Self {
            name,
            postcode,
            prefecture,
            address_lines,
            phone,
        })
    }
}

impl Label {
    /// Checks every field (see [`LabelError`]); the checks that need the
    /// font (glyphs, fit) happen in [`render`].
    pub fn new(
        waybill: &str,
        size: ParcelSize,
        recipient: &PartyInput,
        sender: &PartyInput,
    ) -> Result<Self, LabelError> {
        let ok = !waybill.is_empty()
            && waybill.len() <= MAX_WAYBILL
            && waybill
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(LabelError::Waybill);
        }
        Ok(Self {
            waybill: waybill.to_owned(),
            size,
            recipient: Party::parse(recipient, Side::Recipient)?,
            sender: Party::parse(sender, Side::Sender)?,
        })
    }

    pub fn waybill(&self) -> &str {
        &self.waybill
    }
}

/// Who looked, and when: drawn faint and repeated across the label.
/// Printable ASCII only (a staff id and a UTC time, never a name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    pub(crate) text: String,
}

impl Watermark {
    pub fn new(staff: &str, at: &str) -> Result<Self, LabelError> {
        let ok = |s: &str| {
            !s.is_empty()
                && s.len() <= MAX_WATERMARK_PART
                && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        };
        if !ok(staff) || !ok(at) {
            return Err(LabelError::Watermark);
        }
        Ok(Self {
            text: format!("{staff}  {at}"),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party() -> PartyInput {
        PartyInput {
            name: "山田 花子".into(),
            postcode: "100-0001".into(),
            prefecture: "東京都".into(),
            address_lines: vec!["千代田区千代田1-1".into()],
            phone: Some("090-1234-5678".into()),
        }
    }

    #[test]
    fn c19_debug_of_personal_input_and_label_shows_no_personal_field() {
        let p = party();
        let label = Label::new("AN-1", ParcelSize::S80, &p, &p).unwrap();
        for shown in [format!("{p:?}"), format!("{label:?}")] {
            for secret in ["山田", "100-0001", "東京都", "千代田", "090-1234"] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
        assert!(format!("{label:?}").contains("AN-1"));
    }

    #[test]
    fn errors_name_the_field_not_the_value() {
        let mut p = party();
        p.name = "山田\u{202E}花子".into();
        let e = Label::new("AN-1", ParcelSize::S60, &party(), &p).unwrap_err();
        assert_eq!(
            e,
            LabelError::Control {
                field: Field::Name(Side::Sender)
            }
        );
        assert_eq!(
            e.to_string(),
            "the sender's name contains a control or invisible formatting character"
        );
    }

    #[test]
    fn absurdly_long_fields_are_refused_before_any_drawing() {
        let mut p = party();
        p.address_lines = vec!["あ".repeat(1_000_000)];
        assert_eq!(
            Label::new("AN-1", ParcelSize::S60, &p, &party()).unwrap_err(),
            LabelError::TooLong {
                field: Field::Address(Side::Recipient),
                max: MAX_ADDRESS_LINE
            }
        );
        p.address_lines = vec!["x".into(); 5];
        assert!(matches!(
            Label::new("AN-1", ParcelSize::S60, &p, &party()),
            Err(LabelError::TooManyLines { .. })
        ));
        assert_eq!(
            Label::new(&"9".repeat(33), ParcelSize::S60, &party(), &party()).unwrap_err(),
            LabelError::Waybill
        );
        assert_eq!(
            Label::new("AN 1", ParcelSize::S60, &party(), &party()).unwrap_err(),
            LabelError::Waybill
        );
    }

    #[test]
    fn empty_required_fields_are_refused() {
        let mut p = party();
        p.name = "   ".into();
        assert!(matches!(
            Label::new("AN-1", ParcelSize::S60, &p, &party()),
            Err(LabelError::Empty {
                field: Field::Name(Side::Recipient)
            })
        ));
        let mut p = party();
        p.address_lines = vec![" ".into(), String::new()];
        assert!(matches!(
            Label::new("AN-1", ParcelSize::S60, &p, &party()),
            Err(LabelError::Empty {
                field: Field::Address(Side::Recipient)
            })
        ));
    }

    #[test]
    fn watermarks_are_printable_ascii() {
        assert!(Watermark::new("staff-1", "2026-12-06T03:00Z").is_ok());
        assert_eq!(Watermark::new("", "t"), Err(LabelError::Watermark));
        assert_eq!(Watermark::new("山田", "t"), Err(LabelError::Watermark));
        assert_eq!(Watermark::new("a\nb", "t"), Err(LabelError::Watermark));
        assert_eq!(
            Watermark::new(&"a".repeat(65), "t"),
            Err(LabelError::Watermark)
        );
    }
}
