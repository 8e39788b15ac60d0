//! Migrations on real SQLite: applied once each, atomically, drift refused, dry runs that leave
//! nothing behind, and two runners racing for one database.

use super::*;
use crate::sql::{Row, SqlDatabase, SqlError, Statement};
use crate::testing::SqliteDatabase;
use crate::UnixTime;
use pollster::block_on;
use std::cell::Cell;

const NOW: UnixTime = UnixTime::from_millis(1_700_000_000_000);

fn three() -> Migrations {
    Migrations::from_files([
        (
            "0001_notes.sql",
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        ),
        (
            "0002_seed.sql",
            "INSERT INTO notes (body) VALUES ('hello');",
        ),
        (
            "0003_tags.sql",
            "ALTER TABLE notes ADD COLUMN tag TEXT; CREATE INDEX notes_tag ON notes (tag);",
        ),
    ])
    .unwrap()
}

fn query(db: &SqliteDatabase, sql: &'static str) -> Vec<Row> {
    block_on(db.batch(vec![Statement::new(sql, vec![])]))
        .unwrap()
        .remove(0)
}

fn tables(db: &SqliteDatabase) -> Vec<String> {
    query(
        db,
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name",
    )
    .iter()
    .map(|r| r["name"].as_str().unwrap().to_owned())
    .collect()
}

#[test]
fn migrations_apply_once_each_and_a_second_run_finds_nothing_to_do() {
    let db = SqliteDatabase::in_memory();
    assert_eq!(
        block_on(status(&db, &three())).unwrap().pending,
        vec![0, 1, 2]
    );
    assert_eq!(block_on(migrate(&db, &three(), NOW)), Ok(3));
    assert_eq!(block_on(migrate(&db, &three(), NOW)), Ok(3));
    assert_eq!(query(&db, "SELECT count(*) AS n FROM notes")[0]["n"], 1);
    let ledger = query(
        &db,
        "SELECT name, version, applied_at FROM edge_tenancy_migrations ORDER BY version",
    );
    let names: Vec<&str> = ledger.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["0001_notes.sql", "0002_seed.sql", "0003_tags.sql"]);
    assert_eq!(ledger[2]["version"], 3);
    assert_eq!(ledger[0]["applied_at"], NOW.millis());

    // A fourth migration, added later, is the only one applied.
    let mut files: Vec<(String, String)> = three()
        .iter()
        .map(|m| (m.name().into(), m.sql().into()))
        .collect();
    files.push((
        "0004_more.sql".into(),
        "INSERT INTO notes (body) VALUES ('again')".into(),
    ));
    let four = Migrations::new(files).unwrap();
    assert_eq!(block_on(migrate(&db, &four, NOW)), Ok(4));
    assert_eq!(query(&db, "SELECT count(*) AS n FROM notes")[0]["n"], 2);
}

#[test]
fn a_failing_migration_leaves_nothing_of_itself_and_keeps_those_before() {
    let db = SqliteDatabase::in_memory();
    let migrations = Migrations::new([
        ("a", "CREATE TABLE a (x)"),
        (
            "b",
            "CREATE TABLE b (y); INSERT INTO b VALUES (1); INSERT INTO missing VALUES (1)",
        ),
        ("c", "CREATE TABLE c (z)"),
    ])
    .unwrap();
    let Err(MigrateError::Failed { migration, error }) = block_on(migrate(&db, &migrations, NOW))
    else {
        panic!("b should fail");
    };
    assert_eq!(migration, "b");
    assert!(error.0.contains("no such table: missing"), "{error}");
    assert_eq!(
        tables(&db),
        [
            "a",
            "edge_tenancy_migrations",
            "sqlite_autoindex_edge_tenancy_migrations_1"
        ]
    );
    assert_eq!(block_on(status(&db, &migrations)).unwrap().version, 1);
}

#[test]
fn a_migration_changed_after_it_was_applied_is_drift_and_stops_everything() {
    let db = SqliteDatabase::in_memory();
    let first =
        Migrations::new([("a", "CREATE TABLE a (x)"), ("b", "CREATE TABLE b (x)")]).unwrap();
    block_on(migrate(&db, &first, NOW)).unwrap();
    let changed = Migrations::new([
        ("a", "CREATE TABLE a (x, y)"),
        ("b", "CREATE TABLE b (x)"),
        ("c", "CREATE TABLE c (x)"),
    ])
    .unwrap();
    let drift = block_on(status(&db, &changed)).unwrap().drift;
    assert!(
        matches!(&drift[..], [Drift::Changed { name, .. }] if name == "a"),
        "{drift:?}"
    );
    assert!(matches!(
        block_on(migrate(&db, &changed, NOW)),
        Err(MigrateError::Drift(_))
    ));
    assert!(!tables(&db).contains(&"c".to_owned()));

    // One applied elsewhere and one added before an applied one are drift too.
    let reordered =
        Migrations::new([("z", "CREATE TABLE z (x)"), ("b", "CREATE TABLE b (x)")]).unwrap();
    let drift = block_on(status(&db, &reordered)).unwrap().drift;
    assert_eq!(
        drift,
        vec![
            Drift::Unlisted { name: "a".into() },
            Drift::Skipped { name: "z".into() }
        ]
    );
}

#[test]
fn a_dry_run_runs_everything_and_leaves_nothing() {
    let db = SqliteDatabase::in_memory();
    let status = block_on(dry_run(&db, &three(), NOW)).unwrap();
    assert_eq!(status.pending, vec![0, 1, 2]);
    assert!(tables(&db).is_empty(), "{:?}", tables(&db));

    let bad = Migrations::new([("a", "CREATE TABLE a (x)"), ("b", "CREATE TABLE a (y)")]).unwrap();
    let Err(MigrateError::Failed { error, .. }) = block_on(dry_run(&db, &bad, NOW)) else {
        panic!("the dry run should fail");
    };
    assert!(error.0.contains("table a already exists"), "{error}");
    assert!(tables(&db).is_empty());

    // Against a database part of the way there, only what is pending is tried.
    block_on(migrate(
        &db,
        &Migrations::new([("0001_notes.sql", three().get(0).unwrap().sql())]).unwrap(),
        NOW,
    ))
    .unwrap();
    assert_eq!(
        block_on(dry_run(&db, &three(), NOW)).unwrap().pending,
        vec![1, 2]
    );
    assert_eq!(query(&db, "SELECT count(*) AS n FROM notes")[0]["n"], 0);
}

/// A database another runner migrates too: before each of this runner's migrations, the rival
/// applies the same one first.
struct Racing {
    db: SqliteDatabase,
    rival_went: Cell<usize>,
}

impl SqlDatabase for Racing {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError> {
        let records = statements
            .last()
            .is_some_and(|s| s.sql.starts_with("INSERT INTO edge_tenancy_migrations"));
        if records && self.rival_went.get() < 2 {
            self.rival_went.set(self.rival_went.get() + 1);
            self.db.batch(statements.clone()).await?;
        }
        self.db.batch(statements).await
    }
}

#[test]
fn two_runners_racing_apply_each_migration_once() {
    let racing = Racing {
        db: SqliteDatabase::in_memory(),
        rival_went: Cell::new(0),
    };
    assert_eq!(block_on(migrate(&racing, &three(), NOW)), Ok(3));
    assert_eq!(racing.rival_went.get(), 2);
    assert_eq!(
        query(&racing.db, "SELECT count(*) AS n FROM notes")[0]["n"],
        1
    );
    assert_eq!(
        query(
            &racing.db,
            "SELECT count(*) AS n FROM edge_tenancy_migrations"
        )[0]["n"],
        3
    );
}

/// A database that counts the calls made to it.
struct Counting {
    db: SqliteDatabase,
    calls: Cell<usize>,
}

impl Counting {
    fn new() -> Self {
        Self {
            db: SqliteDatabase::in_memory(),
            calls: Cell::new(0),
        }
    }

    fn take_calls(&self) -> usize {
        self.calls.replace(0)
    }
}

impl SqlDatabase for Counting {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError> {
        self.calls.set(self.calls.get() + 1);
        self.db.batch(statements).await
    }
}

#[test]
fn from_where_the_registry_says_a_database_stands_each_step_is_one_call() {
    let db = Counting::new();
    let first = Migrations::new([("0001_notes.sql", three().get(0).unwrap().sql())]).unwrap();
    assert_eq!(block_on(migrate_from(&db, &first, 0, 1, NOW)), Ok(1));
    assert_eq!(db.take_calls(), 1, "a new database: the batch alone");

    let status = block_on(dry_run_from(&db, &three(), 1, NOW)).unwrap();
    assert_eq!((status.version, status.pending), (1, vec![1, 2]));
    assert_eq!(db.take_calls(), 1, "the dry run: one batch, rolled back");
    assert_eq!(query(&db.db, "SELECT count(*) AS n FROM notes")[0]["n"], 0);

    assert_eq!(block_on(migrate_from(&db, &three(), 1, 3, NOW)), Ok(3));
    assert_eq!(db.take_calls(), 1);
    let at_version = block_on(dry_run_from(&db, &three(), 3, NOW)).unwrap();
    assert!(at_version.pending.is_empty());
    assert_eq!(db.take_calls(), 1);
    assert_eq!(query(&db.db, "SELECT count(*) AS n FROM notes")[0]["n"], 1);
}

#[test]
fn a_wrong_guess_is_caught_in_the_batch_and_the_ledger_decides() {
    let db = Counting::new();
    block_on(migrate(&db, &three(), NOW)).unwrap();
    db.take_calls();
    // Believed behind (a registry row not yet updated): nothing is applied twice.
    assert_eq!(block_on(migrate_from(&db, &three(), 1, 3, NOW)), Ok(3));
    assert_eq!(
        db.take_calls(),
        2,
        "the refused batch, then the ledger read"
    );
    assert_eq!(query(&db.db, "SELECT count(*) AS n FROM notes")[0]["n"], 1);
    assert!(block_on(dry_run_from(&db, &three(), 0, NOW))
        .unwrap()
        .pending
        .is_empty());
    // Believed ahead (a database restored from an older backup): what it lacks is applied.
    let behind = Counting::new();
    block_on(migrate_to(&behind, &three(), 1, NOW)).unwrap();
    assert_eq!(block_on(migrate_from(&behind, &three(), 3, 3, NOW)), Ok(3));
    assert_eq!(
        query(
            &behind.db,
            "SELECT count(*) AS n FROM edge_tenancy_migrations"
        )[0]["n"],
        3
    );
    // A changed migration is drift whatever the guess: the guard compares hashes too.
    let listed = three();
    let changed = Migrations::from_files(listed.iter().enumerate().map(|(at, m)| {
        let sql = if at == 1 {
            "INSERT INTO notes (body) VALUES ('changed');"
        } else {
            m.sql()
        };
        (m.name().to_owned(), sql.to_owned())
    }))
    .unwrap();
    assert!(matches!(
        block_on(dry_run_from(&db, &changed, 3, NOW)),
        Err(MigrateError::Drift(_))
    ));
    assert!(matches!(
        block_on(migrate_from(&db, &changed, 3, 3, NOW)),
        Err(MigrateError::Drift(_))
    ));
}

#[test]
fn a_migration_that_fails_from_a_right_guess_is_named_and_leaves_nothing() {
    let db = Counting::new();
    let bad = Migrations::new([("a", "CREATE TABLE a (x)"), ("b", "CREATE TABLE a (y)")]).unwrap();
    let Err(MigrateError::Failed { migration, error }) = block_on(dry_run_from(&db, &bad, 0, NOW))
    else {
        panic!("the dry run should fail");
    };
    assert_eq!(
        migration, "a",
        "the first pending migration names a batch's failure"
    );
    assert!(error.0.contains("table a already exists"), "{error}");
    assert!(tables(&db.db).is_empty());
    let Err(MigrateError::Failed { migration, .. }) = block_on(migrate_from(&db, &bad, 0, 2, NOW))
    else {
        panic!("the migration should fail");
    };
    assert_eq!(
        migration, "b",
        "applied one at a time after the batch failed"
    );
}
