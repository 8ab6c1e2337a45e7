//! What a creator types into the shop and item forms, parsed into the
//! domain's types, or every field's error at once (like the member-data
//! forms: [`FieldError`]s name the field and the rule, never the input).

use anshin_domain::{ItemDescription, ItemTitle, Price, ShopDescription, ShopName, Stock};
use serde::Deserialize;

use crate::member_data::FieldError;

/// The shop form as typed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawShop {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// A parsed shop form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopInput {
    pub name: ShopName,
    pub description: ShopDescription,
}

/// The item form as typed. `stock` empty means unlimited.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawItem {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub price: String,
    #[serde(default)]
    pub stock: String,
}

/// A parsed item form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInput {
    pub title: ItemTitle,
    pub description: ItemDescription,
    pub price: Price,
    pub stock: Stock,
}

/// Why a text field was refused: empty, too long, or a character that is
/// not allowed (control, bidi override).
fn text_error(field: &'static str, raw: &str, max: usize, required: bool) -> FieldError {
    let trimmed = raw.trim();
    if required && trimmed.is_empty() {
        FieldError::new(field, "required")
    } else if trimmed.chars().count() > max {
        FieldError::new(field, "too_long")
    } else {
        FieldError::new(field, "invalid_character")
    }
}

impl ShopInput {
    pub fn parse(raw: &RawShop) -> Result<Self, Vec<FieldError>> {
        let name = ShopName::parse(&raw.name);
        let description = ShopDescription::parse(&raw.description);
        match (name, description) {
            (Some(name), Some(description)) => Ok(Self { name, description }),
            (name, description) => {
                let mut errors = Vec::new();
                if name.is_none() {
                    errors.push(text_error(
                        "shop_name",
                        &raw.name,
                        ShopName::MAX_CHARS,
                        true,
                    ));
                }
                if description.is_none() {
                    errors.push(text_error(
                        "shop_description",
                        &raw.description,
                        ShopDescription::MAX_CHARS,
                        false,
                    ));
                }
                Err(errors)
            }
        }
    }
}

impl ItemInput {
    pub fn parse(raw: &RawItem) -> Result<Self, Vec<FieldError>> {
        let title = ItemTitle::parse(&raw.title);
        let description = ItemDescription::parse(&raw.description);
        let price = Price::parse(&raw.price);
        let stock = if raw.stock.trim().is_empty() {
            Some(Stock::UNLIMITED)
        } else {
            Stock::parse(&raw.stock)
        };
        match (title, description, price, stock) {
            (Some(title), Some(description), Some(price), Some(stock)) => Ok(Self {
                title,
                description,
                price,
                stock,
            }),
            (title, description, price, stock) => {
                let mut errors = Vec::new();
                if title.is_none() {
                    errors.push(text_error("title", &raw.title, ItemTitle::MAX_CHARS, true));
                }
                if description.is_none() {
                    errors.push(text_error(
                        "description",
                        &raw.description,
                        ItemDescription::MAX_CHARS,
                        false,
                    ));
                }
                if price.is_none() {
                    errors.push(price_error("price", &raw.price));
                }
                if stock.is_none() {
                    errors.push(FieldError::new("stock", "invalid"));
                }
                Err(errors)
            }
        }
    }
}

/// Why a price was refused: empty, not a whole number of yen (a sign, a
/// decimal point), or above [`Price::MAX`].
pub(crate) fn price_error(field: &'static str, raw: &str) -> FieldError {
    if raw.trim().is_empty() {
        FieldError::new(field, "required")
    } else if anshin_domain::Yen::parse(raw).is_some() {
        FieldError::new(field, "too_high")
    } else {
        FieldError::new(field, "invalid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw_item(title: &str, price: &str, stock: &str) -> RawItem {
        RawItem {
            title: title.into(),
            description: "説明".into(),
            price: price.into(),
            stock: stock.into(),
        }
    }

    fn codes(e: Vec<FieldError>) -> Vec<String> {
        e.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_item_form_parses_or_names_each_wrong_field() {
        let ok = ItemInput::parse(&raw_item("マグカップ", "¥1,800", "3")).unwrap();
        assert_eq!(ok.price.yen().amount(), 1800);
        assert_eq!(ok.stock.count(), Some(3));
        let unlimited = ItemInput::parse(&raw_item("PDF", "500", " ")).unwrap();
        assert_eq!(unlimited.stock, Stock::UNLIMITED);
        assert_eq!(
            codes(ItemInput::parse(&raw_item("", "-100", "1e9")).unwrap_err()),
            ["title: required", "price: invalid", "stock: invalid"]
        );
        assert_eq!(
            codes(ItemInput::parse(&raw_item(&"a".repeat(81), "10000000", "-1")).unwrap_err()),
            ["title: too_long", "price: too_high", "stock: invalid"]
        );
        assert_eq!(
            codes(ItemInput::parse(&raw_item("a\u{202E}b", "", "100000")).unwrap_err()),
            [
                "title: invalid_character",
                "price: required",
                "stock: invalid"
            ]
        );
    }

    #[test]
    fn a_shop_form_parses_or_names_each_wrong_field() {
        let raw = RawShop {
            name: " やまねこ工房 ".into(),
            description: "# ようこそ".into(),
        };
        assert_eq!(
            ShopInput::parse(&raw).unwrap().name.as_str(),
            "やまねこ工房"
        );
        let raw = RawShop {
            name: "".into(),
            description: "x".repeat(2001),
        };
        assert_eq!(
            codes(ShopInput::parse(&raw).unwrap_err()),
            ["shop_name: required", "shop_description: too_long"]
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,120}", p in "[-0-9０-９¥,.e]{0,15}") {
            let _ = ItemInput::parse(&RawItem { title: s.clone(), description: s.clone(), price: p.clone(), stock: p.clone() });
            let _ = ShopInput::parse(&RawShop { name: s.clone(), description: s });
        }
    }
}
