//! Money: whole yen as a signed 64-bit integer, never a float. The yen
//! has no minor unit in use, so an integer is exact; the sign lets a
//! ledger posting be a debit or a credit. Arithmetic is checked: an
//! overflow is an error the caller must handle, not a wrapped amount.

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Yen(i64);

impl Yen {
    pub const ZERO: Yen = Yen(0);

    pub const fn new(amount: i64) -> Self {
        Self(amount)
    }

    pub const fn amount(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Yen) -> Option<Yen> {
        self.0.checked_add(other.0).map(Yen)
    }

    pub fn checked_sub(self, other: Yen) -> Option<Yen> {
        self.0.checked_sub(other.0).map(Yen)
    }

    pub fn checked_mul(self, count: i64) -> Option<Yen> {
        self.0.checked_mul(count).map(Yen)
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Parses what a person types for a price: digits with optional
    /// `,` or full-width digits and a leading `¥`/`￥`; at most
    /// 999,999,999,999 yen. `None` for anything else (signs, decimals).
    pub fn parse(text: &str) -> Option<Yen> {
        let t = text.trim();
        let t = t
            .strip_prefix('¥')
            .or_else(|| t.strip_prefix('￥'))
            .unwrap_or(t)
            .trim();
        let mut amount: i64 = 0;
        let mut digits = 0;
        for c in t.chars() {
            let d = match c {
                '0'..='9' => c as i64 - '0' as i64,
                '０'..='９' => c as i64 - '０' as i64,
                ',' | '，' => continue,
                _ => return None,
            };
            digits += 1;
            if digits > 12 {
                return None;
            }
            amount = amount * 10 + d;
        }
        (digits > 0).then_some(Yen(amount))
    }
}

/// The price of an item: whole yen from 0 (free, for digital goods
/// later) to [`Price::MAX`]. Private field: only [`Price::parse`] and
/// [`Price::new`] make one, so a negative or absurd price cannot reach
/// the store (which checks `price_yen >= 0` once more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Price(Yen);

impl Price {
    /// ¥9,999,999: what Japanese creator marketplaces allow per item, and
    /// far from any overflow when a cart multiplies it by a quantity.
    pub const MAX: Yen = Yen(9_999_999);

    /// `None` outside `0..=MAX`.
    pub const fn new(amount: Yen) -> Option<Self> {
        if amount.0 >= 0 && amount.0 <= Self::MAX.0 {
            Some(Self(amount))
        } else {
            None
        }
    }

    /// What a person types ([`Yen::parse`]), within the range above.
    pub fn parse(text: &str) -> Option<Self> {
        Yen::parse(text).and_then(Self::new)
    }

    pub const fn yen(self) -> Yen {
        self.0
    }
}

impl std::fmt::Display for Price {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for Yen {
    /// `¥1,234` (negative: `-¥1,234`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.0.unsigned_abs().to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}¥{grouped}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn yen_display_parse_and_checked_arithmetic() {
        assert_eq!(Yen::new(1_234_567).to_string(), "¥1,234,567");
        assert_eq!(Yen::new(-980).to_string(), "-¥980");
        assert_eq!(Yen::ZERO.to_string(), "¥0");
        assert_eq!(Yen::parse("￥１，２３４"), Some(Yen::new(1234)));
        assert_eq!(Yen::parse(" 980 "), Some(Yen::new(980)));
        for bad in ["", "¥", "-5", "1.5", "1e3", "9999999999999"] {
            assert_eq!(Yen::parse(bad), None, "{bad}");
        }
        assert_eq!(Yen::new(i64::MAX).checked_add(Yen::new(1)), None);
        assert_eq!(Yen::new(5).checked_sub(Yen::new(7)), Some(Yen::new(-2)));
    }

    #[test]
    fn prices_are_whole_yen_within_the_range() {
        assert_eq!(Price::parse("980").map(Price::yen), Some(Yen::new(980)));
        assert_eq!(Price::parse("0").map(Price::yen), Some(Yen::ZERO));
        assert_eq!(Price::parse("¥9,999,999").map(Price::yen), Some(Price::MAX));
        for bad in ["-1", "10,000,000", "1.5", "", "abc", "1e9"] {
            assert_eq!(Price::parse(bad), None, "{bad}");
        }
        assert_eq!(Price::new(Yen::new(-1)), None);
        assert_eq!(Price::new(Yen::new(i64::MAX)), None);
    }

    proptest! {
        #[test]
        fn yen_display_parses_back(n in 0i64..=999_999_999_999) {
            let shown = Yen::new(n).to_string();
            prop_assert_eq!(Yen::parse(&shown), Some(Yen::new(n)));
        }

        #[test]
        fn yen_parse_never_panics(s in ".{0,40}") {
            let _ = Yen::parse(&s);
        }
    }
}
