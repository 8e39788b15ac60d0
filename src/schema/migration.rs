//! Named SQL migrations, in order: from strings, or from files in the layout of wrangler's
//! `migrations/` folder (`0001_create_users.sql`), so the migrations a user runs with
//! `wrangler d1 migrations apply` come over unchanged.

use super::sql_text::statements;
use super::statement::{kind, Kind};
use sha2::{Digest, Sha256};
use std::fmt;

/// One migration: its name, its SQL and the SQL's hash, which the ledger of every database it
/// is applied to keeps, so a migration changed after it was applied is seen (drift).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    name: String,
    sql: String,
    statements: Vec<String>,
    hash: String,
}

impl Migration {
    /// The migration's name (a file's name, `0001_create_users.sql`, or one given).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its SQL as written.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Its statements, each without the `;` and the comments between statements, as they are
    /// sent to the database (D1 runs one statement per prepared statement).
    pub fn statements(&self) -> &[String] {
        &self.statements
    }

    /// SHA-256 of its SQL in lower-case hex, with `\r\n` read as `\n`, so the same file checked
    /// out on Windows is not drift.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// Why a list of migrations is refused; names the migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationError {
    /// A schema group's name that is not 1 to 64 of `a-z`, `0-9`, `-` and `_`.
    InvalidGroup(String),
    /// A file name not in wrangler's `NNNN_name.sql` form, or an empty name.
    InvalidName(String),
    /// Two migrations with one name, or two files with one number (their order is unknown).
    Duplicate(String),
    /// A migration with no statement.
    Empty(String),
    /// A migration that opens, ends or nests a transaction: each migration already runs in one,
    /// with its ledger row, and D1 refuses them.
    Transaction {
        /// The migration.
        migration: String,
        /// The statement's place in the migration, from 1.
        statement: usize,
    },
}

impl fmt::Display for MigrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName(name) => write!(
                f,
                "migration {name:?}: a migration file's name is a number, '_', a name and '.sql' (0001_create_users.sql)"
            ),
            Self::InvalidGroup(name) => write!(
                f,
                "schema group {name:?}: a group's name is 1 to 64 of a-z, 0-9, '-' and '_'"
            ),
            Self::Duplicate(name) => write!(f, "migration {name:?} comes twice, or its number does"),
            Self::Empty(name) => write!(f, "migration {name:?} has no statement"),
            Self::Transaction { migration, statement } => write!(
                f,
                "migration {migration:?}, statement {statement}: BEGIN, COMMIT, ROLLBACK, SAVEPOINT and RELEASE are refused; each migration runs in one transaction already"
            ),
        }
    }
}

impl std::error::Error for MigrationError {}

/// An ordered list of migrations, checked: names unique, each with statements, none that
/// controls a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Migrations(Vec<Migration>);

impl Migrations {
    /// Migrations from `(name, sql)` pairs, applied in the order given.
    pub fn new<N: Into<String>, S: Into<String>>(
        list: impl IntoIterator<Item = (N, S)>,
    ) -> Result<Self, MigrationError> {
        let mut out: Vec<Migration> = Vec::new();
        for (name, sql) in list {
            let (name, sql) = (name.into(), sql.into());
            if name.is_empty() || name.len() > 200 {
                return Err(MigrationError::InvalidName(name));
            }
            if out.iter().any(|m| m.name == name) {
                return Err(MigrationError::Duplicate(name));
            }
            out.push(migration(name, sql)?);
        }
        Ok(Self(out))
    }

    /// Migrations from the files of a wrangler `migrations/` folder, as `(file name, contents)`
    /// in any order: files not ending in `.sql` are skipped, as wrangler skips them; the rest
    /// must be `NNNN_name.sql` and are applied in the order of their numbers.
    pub fn from_files<N: Into<String>, S: Into<String>>(
        files: impl IntoIterator<Item = (N, S)>,
    ) -> Result<Self, MigrationError> {
        let mut numbered = Vec::new();
        for (name, sql) in files {
            let name: String = name.into();
            if !name.ends_with(".sql") {
                continue;
            }
            let number = name
                .split_once('_')
                .filter(|(n, rest)| {
                    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && rest.len() > 4
                })
                .and_then(|(n, _)| n.parse::<u64>().ok())
                .ok_or_else(|| MigrationError::InvalidName(name.clone()))?;
            numbered.push((number, name, sql.into()));
        }
        numbered.sort_by_key(|(number, _, _)| *number);
        if let Some(pair) = numbered.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(MigrationError::Duplicate(pair[1].1.clone()));
        }
        Self::new(numbered.into_iter().map(|(_, name, sql)| (name, sql)))
    }

    /// The migrations, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Migration> {
        self.0.iter()
    }

    /// How many there are: the version a database has once all are applied.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The migration at `index`.
    pub fn get(&self, index: usize) -> Option<&Migration> {
        self.0.get(index)
    }

    /// The first `version` of them (all, when there are fewer): what a job to that version
    /// applies, whatever a later deployment added.
    pub fn up_to(&self, version: usize) -> Self {
        Self(self.0.iter().take(version).cloned().collect())
    }
}

fn migration(name: String, sql: String) -> Result<Migration, MigrationError> {
    let parsed = statements(&sql);
    if parsed.is_empty() {
        return Err(MigrationError::Empty(name));
    }
    if let Some(at) = parsed
        .iter()
        .position(|s| kind(&s.tokens) == Kind::Transaction)
    {
        return Err(MigrationError::Transaction {
            migration: name,
            statement: at + 1,
        });
    }
    let statements = parsed.iter().map(|s| s.text.to_owned()).collect();
    let hash = Sha256::digest(sql.replace("\r\n", "\n").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Migration {
        name,
        sql,
        statements,
        hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrangler_folders_are_ordered_by_number_and_checked() {
        let files = [
            (
                "0002_posts.sql",
                "CREATE TABLE posts (id INTEGER PRIMARY KEY);",
            ),
            ("README.md", "not a migration"),
            (
                "0001_users.sql",
                "-- users\nCREATE TABLE users (id INTEGER PRIMARY KEY);\r\n",
            ),
            ("0010_index.sql", "CREATE INDEX posts_id ON posts (id)"),
        ];
        let migrations = Migrations::from_files(files).unwrap();
        let names: Vec<&str> = migrations.iter().map(|m| m.name()).collect();
        assert_eq!(
            names,
            ["0001_users.sql", "0002_posts.sql", "0010_index.sql"]
        );
        let same = Migrations::from_files([(
            "0001_users.sql",
            "-- users\nCREATE TABLE users (id INTEGER PRIMARY KEY);\n",
        )])
        .unwrap();
        assert_eq!(
            same.get(0).unwrap().hash(),
            migrations.get(0).unwrap().hash()
        );
        assert_eq!(migrations.get(0).unwrap().hash().len(), 64);

        for (files, want) in [
            (
                vec![("users.sql", "SELECT 1")],
                MigrationError::InvalidName("users.sql".into()),
            ),
            (
                vec![("01_.sql", "SELECT 1")],
                MigrationError::InvalidName("01_.sql".into()),
            ),
            (
                vec![("0001_a.sql", "SELECT 1"), ("1_b.sql", "SELECT 1")],
                MigrationError::Duplicate("1_b.sql".into()),
            ),
            (
                vec![("0001_a.sql", "-- nothing\n;")],
                MigrationError::Empty("0001_a.sql".into()),
            ),
            (
                vec![(
                    "0001_a.sql",
                    "CREATE TABLE a (x); begin transaction; CREATE TABLE b (y); COMMIT;",
                )],
                MigrationError::Transaction {
                    migration: "0001_a.sql".into(),
                    statement: 2,
                },
            ),
        ] {
            assert_eq!(Migrations::from_files(files), Err(want));
        }
        assert_eq!(
            Migrations::new([("a", "SELECT 1"), ("a", "SELECT 2")]),
            Err(MigrationError::Duplicate("a".into()))
        );
    }

    #[test]
    fn a_trigger_body_is_one_statement_and_no_transaction() {
        let m = Migrations::new([(
            "t",
            "CREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n  INSERT INTO a VALUES (CASE WHEN 1 THEN 2 END);\nEND;\n-- done",
        )])
        .unwrap();
        let statements = m.get(0).unwrap().statements();
        assert_eq!(statements.len(), 2);
        assert!(statements[1].starts_with("CREATE TRIGGER") && statements[1].ends_with("END"));
    }
}
