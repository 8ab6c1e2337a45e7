//! Uploaded images: identified by their bytes, bounded before decoding,
//! re-encoded so that only pixels are kept. (Filled in by step 2 of issue
//! 13; the error type is the contract.)

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
