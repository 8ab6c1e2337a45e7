//! Writes that need no answer, sent to the database together: one round
//! trip for a bundle's session, login history, counters, device, mail and
//! audit entry instead of one each (issue 19, item 8). Every round trip
//! costs a hand-off to SQLite's worker thread and back, or a message to
//! PostgreSQL and its answer, whatever the statement does.
//!
//! This is the text half (no driver here): each write's statement keeps
//! its own `$1…$n`, renumbered after the values already bound, and the
//! parts are joined as the database wants them: PostgreSQL as one
//! statement of data-modifying CTEs, SQLite as statements sent in one
//! call (its driver binds each `$n` from the one list). The write path
//! (`changes.rs`) binds the values and decides when to send.
//!
//! Two parts never write the same table: PostgreSQL runs the CTEs of one
//! statement on one snapshot in no set order, so two changes to one row
//! would not see each other. [`BatchText::touches`] lets the caller send
//! what is pending first.

use super::shops::Dialect;

/// The statements of one batch, renumbered, and the tables they write.
#[derive(Debug)]
pub struct BatchText {
    dialect: Dialect,
    parts: Vec<String>,
    tables: Vec<&'static str>,
    params: usize,
}

impl BatchText {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            parts: Vec::new(),
            tables: Vec::new(),
            params: 0,
        }
    }

    /// Whether a pending part writes `table`.
    pub fn touches(&self, table: &str) -> bool {
        self.tables.contains(&table)
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// How many values the pending parts expect, in all.
    pub fn params(&self) -> usize {
        self.params
    }

    /// Adds one statement that writes `table`, its parameters `$1…$n`
    /// numbered from 1 as if it were sent alone. The caller binds its `n`
    /// values next, in order.
    pub fn push(&mut self, table: &'static str, sql: &str) {
        let (text, n) = renumber(sql, self.params);
        self.parts.push(text);
        self.tables.push(table);
        self.params += n;
    }

    /// The statement text to send, and the batch emptied; `None` if
    /// nothing is pending.
    pub fn take(&mut self) -> Option<String> {
        let parts = std::mem::take(&mut self.parts);
        self.tables.clear();
        self.params = 0;
        let (last, before) = parts.split_last()?;
        Some(match self.dialect {
            Dialect::Sqlite => parts.join(";\n"),
            Dialect::Postgres if before.is_empty() => last.clone(),
            Dialect::Postgres => {
                let ctes: Vec<String> = before
                    .iter()
                    .enumerate()
                    .map(|(i, p)| format!("w{i} AS ({p})"))
                    .collect();
                // nosemgrep: anshin-sql-from-format -- joins the store's own constant statements; every value is bound
                format!("WITH {} {last}", ctes.join(", "))
            }
        })
    }
}

/// `sql` with every `$n` made `$(n + offset)`, and the highest `n` (how
/// many values the statement takes). Only for the store's own constant
/// statements, which hold no `$` but their parameters.
fn renumber(sql: &str, offset: usize) -> (String, usize) {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut highest = 0;
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        let digits = tail
            .get(1..)
            .unwrap_or("")
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        match tail.get(1..=digits).and_then(|d| d.parse::<usize>().ok()) {
            Some(n) => {
                highest = highest.max(n);
                out.push('$');
                out.push_str(&(n + offset).to_string());
            }
            // A `$` that starts no number we can read stays as written.
            None => out.push_str(tail.get(..=digits).unwrap_or("$")),
        }
        rest = tail.get(1 + digits..).unwrap_or("");
    }
    out.push_str(rest);
    (out, highest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_after_those_before() {
        assert_eq!(
            renumber("INSERT INTO t (a, b) VALUES ($1, $2)", 0),
            ("INSERT INTO t (a, b) VALUES ($1, $2)".to_owned(), 2)
        );
        assert_eq!(
            renumber("SELECT $1, $13 WHERE $13 IS NOT NULL AND $2 = 1", 7),
            (
                "SELECT $8, $20 WHERE $20 IS NOT NULL AND $9 = 1".to_owned(),
                13
            )
        );
        assert_eq!(
            renumber("DELETE FROM t", 4),
            ("DELETE FROM t".to_owned(), 0)
        );
        // Text that is not a parameter is kept whole, digits included.
        assert_eq!(
            renumber("SELECT '$x', $99999999999999999999999, $1", 2),
            ("SELECT '$x', $99999999999999999999999, $3".to_owned(), 1)
        );
    }

    #[test]
    fn postgres_gets_one_statement_of_ctes_sqlite_statements_in_a_row() {
        for (dialect, want) in [
            (
                Dialect::Postgres,
                "WITH w0 AS (INSERT INTO a VALUES ($1)), w1 AS (UPDATE b SET x = $2 WHERE y = $3) \
                 INSERT INTO c VALUES ($4)",
            ),
            (
                Dialect::Sqlite,
                "INSERT INTO a VALUES ($1);\nUPDATE b SET x = $2 WHERE y = $3;\nINSERT INTO c VALUES ($4)",
            ),
        ] {
            let mut b = BatchText::new(dialect);
            assert!(b.take().is_none(), "an empty batch sends nothing");
            b.push("a", "INSERT INTO a VALUES ($1)");
            b.push("b", "UPDATE b SET x = $1 WHERE y = $2");
            b.push("c", "INSERT INTO c VALUES ($1)");
            assert!(b.touches("b") && !b.touches("d"));
            assert_eq!(b.params(), 4);
            assert_eq!(b.take().as_deref(), Some(want));
            assert!(b.is_empty() && b.params() == 0 && !b.touches("a"));
        }
    }

    #[test]
    fn one_part_alone_is_sent_as_written() {
        let mut b = BatchText::new(Dialect::Postgres);
        b.push("a", "INSERT INTO a VALUES ($1)");
        assert_eq!(b.take().as_deref(), Some("INSERT INTO a VALUES ($1)"));
    }
}
