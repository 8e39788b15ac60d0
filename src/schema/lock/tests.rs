//! The DDL lock against statements written to slip past it, and against the ordinary ones it
//! must let through, checked on real SQLite: whatever the lock passes leaves the schema as it was.

use super::Lock;
use crate::Error;
use rusqlite::Connection;

/// Each changes, or may change, a schema; each must be blocked.
const BLOCKED: &[&str] = &[
    "CREATE TABLE t2 (a)",
    "create table t2 (a)",
    "CrEaTe TaBlE t2 (a)",
    "  \n\t CREATE\n\tTABLE t2 (a)",
    "/* a comment */ CREATE TABLE t2 (a)",
    "-- a comment\nCREATE TABLE t2 (a)",
    "/**/CREATE/**/TABLE/**/t2(a)",
    "/* unterminated? no */ DROP TABLE notes",
    "SELECT 1; DROP TABLE notes",
    "SELECT 1;DROP TABLE notes",
    "SELECT ';'; DROP TABLE notes",
    "SELECT '--'; DROP TABLE notes",
    "SELECT \"a;b\" FROM notes; DROP TABLE notes",
    "SELECT [x;y] FROM notes; ALTER TABLE notes ADD COLUMN z",
    "SELECT `x;y` FROM notes; ALTER TABLE notes RENAME TO n2",
    "SELECT 1 -- ; \n; DROP TABLE notes",
    "SELECT 1 /* ; */ ; DROP TABLE notes",
    ";;; DROP TABLE notes",
    "INSERT INTO notes VALUES (1, 'x'); CREATE INDEX i ON notes (body)",
    "DROP TABLE notes",
    "DROP TABLE IF EXISTS notes",
    "DROP INDEX IF EXISTS notes_body",
    "DROP VIEW IF EXISTS v",
    "DROP TRIGGER IF EXISTS tr",
    "ALTER TABLE notes ADD COLUMN extra TEXT",
    "ALTER TABLE notes DROP COLUMN body",
    "ALTER TABLE notes RENAME COLUMN body TO text",
    "ALTER TABLE main.notes RENAME TO n2",
    "CREATE INDEX i ON notes (body)",
    "CREATE UNIQUE INDEX IF NOT EXISTS i ON notes (body)",
    "CREATE VIEW v AS SELECT * FROM notes",
    "CREATE TEMP VIEW v AS SELECT * FROM notes",
    "CREATE TEMPORARY TABLE tt (a)",
    "CREATE TRIGGER tr AFTER INSERT ON notes BEGIN DELETE FROM notes; END",
    "CREATE TEMP TRIGGER tr AFTER INSERT ON notes BEGIN SELECT 1; END",
    "CREATE VIRTUAL TABLE f USING fts5(body)",
    "CREATE TABLE t2 AS SELECT * FROM notes",
    "EXPLAIN CREATE TABLE t2 (a)",
    "EXPLAIN QUERY PLAN DROP TABLE notes",
    "PRAGMA writable_schema = ON",
    "PRAGMA writable_schema=1",
    "pragma WRITABLE_SCHEMA(1)",
    "PRAGMA main.writable_schema = 1",
    "PRAGMA \"writable_schema\" = 1",
    "PRAGMA schema_version = 99",
    "PRAGMA user_version = 7",
    "PRAGMA application_id = 7",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA auto_vacuum = FULL",
    "PRAGMA legacy_alter_table = ON",
    "PRAGMA optimize",
    "PRAGMA incremental_vacuum",
    "PRAGMA trusted_schema = ON",
    "PRAGMA encoding = 'UTF-16'",
    "PRAGMA page_size = 8192",
    "UPDATE sqlite_master SET sql = 'CREATE TABLE notes (x)' WHERE name = 'notes'",
    "UPDATE \"sqlite_master\" SET sql = ''",
    "UPDATE main.sqlite_schema SET sql = ''",
    "DELETE FROM [sqlite_master]",
    "DELETE FROM `SQLITE_SCHEMA` WHERE 1",
    "INSERT INTO 'sqlite_master' VALUES ('table', 'x', 'x', 0, 'CREATE TABLE x (a)')",
    "INSERT INTO sqlite_temp_master VALUES ('table', 'x', 'x', 0, '')",
    "REPLACE INTO sqlite_temp_schema VALUES ('table', 'x', 'x', 0, '')",
    "WITH x AS (SELECT 1) UPDATE sqlite_master SET sql = ''",
    "VACUUM",
    "VACUUM INTO '/tmp/x.db'",
    "ANALYZE",
    "ANALYZE notes",
    "REINDEX",
    "REINDEX notes",
    "ATTACH DATABASE ':memory:' AS other",
    "ATTACH ':memory:' AS other; CREATE TABLE other.t (a)",
    "DETACH other",
    "(CREATE TABLE t2 (a))",
    "\"CREATE\" TABLE t2 (a)",
    "CREATE\u{a0}TABLE t2 (a)",
    "UPSERT INTO notes VALUES (1)",
    "SELECT 1; SELECT 2; SELECT 3; SELECT 4; DROP TABLE notes",
];

/// Ordinary reads and writes: each must pass, and leave the schema as it was.
const HARMLESS: &[&str] = &[
    "SELECT * FROM notes",
    "select id, body from notes where body = 'CREATE TABLE x (a)'",
    "SELECT 'DROP TABLE notes; --' AS sql",
    "SELECT \"body\" FROM notes -- DROP TABLE notes",
    "SELECT 1 /* ; DROP TABLE notes */",
    "SELECT [body] FROM notes WHERE id = ?",
    "SELECT name, sql FROM sqlite_master",
    "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
    "INSERT INTO notes (body) VALUES ('create table')",
    "INSERT INTO notes (body) VALUES (?1), (?2)",
    "INSERT OR REPLACE INTO notes (id, body) VALUES (1, 'x')",
    "REPLACE INTO notes (id, body) VALUES (1, 'y')",
    "UPDATE notes SET body = 'ALTER' WHERE id = 1",
    "DELETE FROM notes WHERE body = 'drop'",
    "INSERT INTO notes (body) VALUES ('a') ON CONFLICT (id) DO UPDATE SET body = excluded.body",
    "INSERT INTO notes (body) VALUES ('r') RETURNING id",
    "WITH recent AS (SELECT * FROM notes ORDER BY id DESC LIMIT 5) SELECT * FROM recent",
    "WITH n AS (SELECT 'x' AS b) INSERT INTO notes (body) SELECT b FROM n",
    "VALUES (1), (2)",
    "EXPLAIN QUERY PLAN SELECT * FROM notes WHERE id = 1",
    "PRAGMA table_info(notes)",
    "PRAGMA main.table_info('notes')",
    "PRAGMA table_list",
    "PRAGMA index_list(notes)",
    "PRAGMA foreign_key_list(notes)",
    "PRAGMA foreign_keys",
    "PRAGMA foreign_keys = ON",
    "PRAGMA defer_foreign_keys = true",
    "PRAGMA user_version",
    "PRAGMA schema_version",
    "PRAGMA quick_check",
    "SELECT 1; SELECT 2;",
    "INSERT INTO notes (body) VALUES ('a'); UPDATE notes SET body = 'b'",
];

fn database() -> Connection {
    let db = Connection::open_in_memory().unwrap();
    db.execute_batch(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
         CREATE INDEX notes_body ON notes (body);
         INSERT INTO notes (body) VALUES ('first');",
    )
    .unwrap();
    db
}

fn schema(db: &Connection) -> (i64, Vec<String>) {
    let version = db
        .query_row("PRAGMA schema_version", [], |r| r.get(0))
        .unwrap();
    let mut statement = db
        .prepare(
            "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master ORDER BY 1",
        )
        .unwrap();
    let rows = statement
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (version, rows)
}

#[test]
fn schema_changes_are_blocked_however_they_are_written() {
    assert!(BLOCKED.len() >= 60);
    for sql in BLOCKED {
        assert_eq!(Lock::Schema.check(sql), Err(Error::Blocked), "{sql}");
        assert_eq!(
            Lock::Migrating {
                retry_after_secs: 2
            }
            .check(sql),
            Err(Error::Blocked),
            "{sql}"
        );
        assert_eq!(Lock::Open.check(sql), Ok(()), "{sql}");
    }
}

#[test]
fn ordinary_statements_pass_and_leave_the_schema_alone() {
    for sql in HARMLESS {
        assert_eq!(Lock::Schema.check(sql), Ok(()), "{sql}");
        let db = database();
        let before = schema(&db);
        for statement in crate::schema::sql_text::statements(sql) {
            let mut prepared = db
                .prepare(statement.text)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let count = prepared.parameter_count();
            let params = (1..=count as i64).map(rusqlite::types::Value::from);
            let mut rows = prepared.query(rusqlite::params_from_iter(params)).unwrap();
            while rows.next().unwrap().is_some() {}
        }
        assert_eq!(schema(&db), before, "{sql}");
    }
}

#[test]
fn a_migrating_group_holds_writes_and_lets_reads_through() {
    let lock = Lock::Migrating {
        retry_after_secs: 3,
    };
    for sql in HARMLESS {
        let writes = crate::schema::classify(sql).contains(&crate::schema::Kind::Write);
        let want = if writes {
            Err(Error::SchemaMigrating {
                retry_after_secs: 3,
            })
        } else {
            Ok(())
        };
        assert_eq!(lock.check(sql), want, "{sql}");
    }
    assert_eq!(lock.check("SELECT * FROM notes"), Ok(()));
}

#[test]
fn a_caller_who_may_change_the_schema_waits_for_a_migrating_group_rather_than_being_refused() {
    let held = Lock::Held {
        retry_after_secs: 3,
    };
    let wait = Err(Error::SchemaMigrating {
        retry_after_secs: 3,
    });
    for sql in BLOCKED {
        assert_eq!(held.check(sql), wait, "{sql}");
    }
    assert_eq!(held.check("INSERT INTO notes (body) VALUES ('x')"), wait);
    assert_eq!(held.check("SELECT * FROM notes"), Ok(()));
}
