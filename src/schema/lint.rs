//! Checks on migrations before a job starts: what D1 would refuse partway through a fleet (a
//! statement over 100 KB, more than 100 bound parameters, a table of more than 100 columns), as
//! errors, and changes that break code still running against the old schema (drops, renames),
//! as warnings with the expand/contract advice.

use super::migration::Migrations;
use super::sql_text::{creates, statements, Token};
use std::collections::HashSet;
use std::fmt;

/// D1's longest statement, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 100_000;
/// D1's most bound parameters in one statement.
pub const MAX_PARAMETERS: usize = 100;
/// D1's most columns in one table.
pub const MAX_COLUMNS: usize = 100;

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A statement longer than D1 takes.
    StatementTooLong {
        /// Its length in bytes.
        bytes: usize,
    },
    /// More bound parameters than D1 takes.
    TooManyParameters {
        /// How many.
        count: usize,
    },
    /// A table with more columns than D1 takes.
    TooManyColumns {
        /// How many.
        count: usize,
    },
    /// A drop or a rename: code deployed before the migration breaks when it runs.
    NotAdditive {
        /// `DROP`, `ALTER … DROP` or `ALTER … RENAME`.
        change: &'static str,
    },
}

impl Finding {
    /// Whether D1 would refuse the statement (an error), rather than a warning.
    pub fn is_error(&self) -> bool {
        !matches!(self, Self::NotAdditive { .. })
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StatementTooLong { bytes } => write!(
                f,
                "the statement is {bytes} bytes; D1 takes at most {MAX_STATEMENT_BYTES}"
            ),
            Self::TooManyParameters { count } => write!(
                f,
                "the statement has {count} parameters; D1 takes at most {MAX_PARAMETERS}"
            ),
            Self::TooManyColumns { count } => write!(
                f,
                "the table has {count} columns; D1 takes at most {MAX_COLUMNS}"
            ),
            Self::NotAdditive { change } => write!(
                f,
                "{change} is not additive: code still running against the old schema breaks the moment it is applied. Expand and contract: add the new table or column first, ship code that uses it (writing both while old code runs), and drop the old one in a later migration once nothing reads it"
            ),
        }
    }
}

/// One finding, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lint {
    /// The migration's name.
    pub migration: String,
    /// The statement's place in it, from 1.
    pub statement: usize,
    /// What was found.
    pub finding: Finding,
}

/// Every finding in `migrations`, in order.
pub fn lint(migrations: &Migrations) -> Vec<Lint> {
    let mut out = Vec::new();
    for migration in migrations.iter() {
        for (at, statement) in statements(migration.sql()).iter().enumerate() {
            let mut found = |finding| {
                out.push(Lint {
                    migration: migration.name().to_owned(),
                    statement: at + 1,
                    finding,
                })
            };
            if statement.text.len() > MAX_STATEMENT_BYTES {
                found(Finding::StatementTooLong {
                    bytes: statement.text.len(),
                });
            }
            let count = parameters(&statement.tokens);
            if count > MAX_PARAMETERS {
                found(Finding::TooManyParameters { count });
            }
            if let Some(count) = columns(&statement.tokens).filter(|&c| c > MAX_COLUMNS) {
                found(Finding::TooManyColumns { count });
            }
            if let Some(change) = not_additive(&statement.tokens) {
                found(Finding::NotAdditive { change });
            }
        }
    }
    out
}

/// How many parameters SQLite numbers in a statement: an anonymous `?` takes the next number,
/// `?N` takes N, each new name the next.
fn parameters(tokens: &[Token<'_>]) -> usize {
    let mut highest = 0;
    let mut names = HashSet::new();
    for token in tokens {
        let Token::Param(p) = token else { continue };
        match p.strip_prefix('?') {
            Some("") => highest += 1,
            Some(n) => highest = highest.max(n.parse().unwrap_or(usize::MAX)),
            None => {
                if names.insert(*p) {
                    highest += 1;
                }
            }
        }
    }
    highest
}

/// The columns a `CREATE TABLE … (…)` defines: the entries of its list that are not table
/// constraints.
fn columns(tokens: &[Token<'_>]) -> Option<usize> {
    if !creates(tokens, "TABLE") {
        return None;
    }
    let open = tokens.iter().position(|t| *t == Token::Punct('('))?;
    let mut depth = 1;
    let mut count = 0;
    let mut entry_start = true;
    for token in &tokens[open + 1..] {
        match token {
            Token::Punct(')') if depth == 1 => break,
            Token::Punct(',') if depth == 1 => {
                entry_start = true;
                continue;
            }
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth -= 1,
            t if entry_start => {
                let constraint = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"];
                if !constraint.iter().any(|c| t.is(c)) {
                    count += 1;
                }
            }
            _ => {}
        }
        entry_start = false;
    }
    Some(count)
}

/// Whether a statement drops or renames something.
fn not_additive(tokens: &[Token<'_>]) -> Option<&'static str> {
    let first = tokens.first()?;
    if first.is("DROP") {
        return Some("DROP");
    }
    if first.is("ALTER") {
        if tokens.iter().any(|t| t.is("RENAME")) {
            return Some("ALTER … RENAME");
        }
        if tokens.iter().any(|t| t.is("DROP")) {
            return Some("ALTER … DROP");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn d1_limits_are_errors_and_drops_warnings() {
        let wide: Vec<String> = (0..101).map(|i| format!("c{i} TEXT")).collect();
        let wide = format!(
            "CREATE TABLE w ({}, PRIMARY KEY (c0), CHECK (c1 <> ''))",
            wide.join(", ")
        );
        let params: Vec<String> = (0..101).map(|_| "?".to_owned()).collect();
        let long = format!("SELECT '{}'", "x".repeat(MAX_STATEMENT_BYTES));
        let migrations = Migrations::new([
            ("1", wide),
            ("2", format!("INSERT INTO t VALUES ({})", params.join(","))),
            ("3", long),
            ("4", "ALTER TABLE t RENAME COLUMN a TO b; ALTER TABLE t DROP COLUMN c; DROP INDEX i".into()),
            ("5", "CREATE TABLE ok (a INTEGER, b TEXT DEFAULT (lower('X')), UNIQUE (a, b)); SELECT ?3, :a, :a, @b".into()),
        ])
        .unwrap();
        let found: Vec<(String, usize, Finding)> = lint(&migrations)
            .into_iter()
            .map(|l| (l.migration, l.statement, l.finding))
            .collect();
        assert_eq!(
            found,
            vec![
                ("1".into(), 1, Finding::TooManyColumns { count: 101 }),
                ("2".into(), 1, Finding::TooManyParameters { count: 101 }),
                (
                    "3".into(),
                    1,
                    Finding::StatementTooLong {
                        bytes: MAX_STATEMENT_BYTES + 9
                    }
                ),
                (
                    "4".into(),
                    1,
                    Finding::NotAdditive {
                        change: "ALTER … RENAME"
                    }
                ),
                (
                    "4".into(),
                    2,
                    Finding::NotAdditive {
                        change: "ALTER … DROP"
                    }
                ),
                ("4".into(), 3, Finding::NotAdditive { change: "DROP" }),
            ]
        );
        assert!(found[..3].iter().all(|(_, _, f)| f.is_error()));
        assert!(!found[3].2.is_error());
        assert_eq!(
            parameters(&statements("SELECT ?3, :a, :a, @b")[0].tokens),
            5
        );
    }
}
