//! What a statement does to a database: reads, writes, controls a transaction, or changes the
//! schema. The DDL lock and the migration checks decide on this, and decide closed: a statement
//! this module does not recognise counts as a schema change.

use super::sql_text::{skip_explain, statements, Token};

/// What one statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Reads only: `SELECT`, `VALUES`, a `WITH` that writes nothing, a read-only `PRAGMA`.
    Read,
    /// Changes rows, not the schema: `INSERT`, `REPLACE`, `UPDATE`, `DELETE`, a `WITH` that
    /// does, a per-connection `PRAGMA` setting such as `foreign_keys`.
    Write,
    /// `BEGIN`, `COMMIT`, `END`, `ROLLBACK`, `SAVEPOINT`, `RELEASE`.
    Transaction,
    /// Changes, or may change, the schema; says how.
    Schema(SchemaChange),
}

/// How a statement changes the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaChange {
    /// `CREATE`, `DROP` or `ALTER`.
    Ddl,
    /// `VACUUM`, `ANALYZE` (which makes `sqlite_stat1`) or `REINDEX`.
    Maintenance,
    /// `ATTACH` or `DETACH`: another database's schema in this connection.
    Attach,
    /// A `PRAGMA` that is not known to be harmless (`writable_schema`, `schema_version`, …).
    Pragma,
    /// A write to the schema table itself (`sqlite_master` or one of its other names).
    SchemaTable,
    /// A statement this module does not recognise.
    Unknown,
}

/// The schema table's names: a write to any of them (with `writable_schema` on) rewrites the
/// schema behind SQLite's back.
const SCHEMA_TABLES: [&str; 4] = [
    "sqlite_master",
    "sqlite_schema",
    "sqlite_temp_master",
    "sqlite_temp_schema",
];

/// Pragmas that read, given a table or index name or nothing.
const READ_PRAGMAS: [&str; 12] = [
    "table_info",
    "table_xinfo",
    "table_list",
    "index_info",
    "index_xinfo",
    "index_list",
    "foreign_key_list",
    "foreign_key_check",
    "integrity_check",
    "quick_check",
    "collation_list",
    "function_list",
];

/// Pragmas whose plain read (no value) is harmless but whose setting is not.
const READ_ONLY_WITHOUT_VALUE: [&str; 8] = [
    "schema_version",
    "user_version",
    "application_id",
    "data_version",
    "page_count",
    "freelist_count",
    "page_size",
    "encoding",
];

/// Per-connection settings that change no schema: an application may set them.
const SETTINGS: [&str; 5] = [
    "foreign_keys",
    "defer_foreign_keys",
    "recursive_triggers",
    "case_sensitive_like",
    "reverse_unordered_selects",
];

/// What each statement of `sql` does, in order.
pub fn classify(sql: &str) -> Vec<Kind> {
    statements(sql).iter().map(|s| kind(&s.tokens)).collect()
}

/// What the statement made of `tokens` does.
pub fn kind(tokens: &[Token<'_>]) -> Kind {
    let tokens = skip_explain(tokens);
    let Some(verb) = tokens.first() else {
        return Kind::Read;
    };
    let is_any = |words: &[&str]| words.iter().any(|w| verb.is(w));
    let kind = if is_any(&["SELECT", "VALUES"]) {
        Kind::Read
    } else if is_any(&["INSERT", "REPLACE", "UPDATE", "DELETE"]) {
        Kind::Write
    } else if verb.is("WITH") {
        let writes = ["INSERT", "REPLACE", "UPDATE", "DELETE"];
        if tokens.iter().any(|t| writes.iter().any(|w| t.is(w))) {
            Kind::Write
        } else {
            Kind::Read
        }
    } else if is_any(&["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"]) {
        Kind::Transaction
    } else if is_any(&["CREATE", "DROP", "ALTER"]) {
        Kind::Schema(SchemaChange::Ddl)
    } else if is_any(&["VACUUM", "ANALYZE", "REINDEX"]) {
        Kind::Schema(SchemaChange::Maintenance)
    } else if is_any(&["ATTACH", "DETACH"]) {
        Kind::Schema(SchemaChange::Attach)
    } else if verb.is("PRAGMA") {
        pragma(&tokens[1..])
    } else {
        Kind::Schema(SchemaChange::Unknown)
    };
    let names_schema_table = || {
        tokens.iter().any(|t| {
            t.name()
                .is_some_and(|n| SCHEMA_TABLES.iter().any(|s| s.eq_ignore_ascii_case(n)))
        })
    };
    if kind == Kind::Write && names_schema_table() {
        return Kind::Schema(SchemaChange::SchemaTable);
    }
    kind
}

/// `PRAGMA [schema.]name [= value | (value)]`, after the `PRAGMA`.
fn pragma(rest: &[Token<'_>]) -> Kind {
    let rest = match rest {
        [_, Token::Punct('.'), rest @ ..] => rest,
        _ => rest,
    };
    let Some(name) = rest.first().and_then(|t| t.name()) else {
        return Kind::Schema(SchemaChange::Pragma);
    };
    let is_in = |list: &[&str]| list.iter().any(|p| p.eq_ignore_ascii_case(name));
    let has_value = rest.len() > 1;
    if is_in(&READ_PRAGMAS) || (!has_value && is_in(&READ_ONLY_WITHOUT_VALUE)) {
        Kind::Read
    } else if is_in(&SETTINGS) {
        if has_value {
            Kind::Write
        } else {
            Kind::Read
        }
    } else {
        Kind::Schema(SchemaChange::Pragma)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_decide_and_unknown_statements_count_as_schema_changes() {
        use Kind::*;
        for (sql, want) in [
            ("select 1", Read),
            ("EXPLAIN QUERY PLAN SELECT * FROM t", Read),
            ("WITH x AS (SELECT 1) SELECT * FROM x", Read),
            ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", Write),
            ("REPLACE INTO t VALUES (1)", Write),
            ("savepoint a", Transaction),
            ("PRAGMA main.table_info(t)", Read),
            ("PRAGMA foreign_keys = ON", Write),
            ("PRAGMA user_version", Read),
            ("PRAGMA user_version = 3", Schema(SchemaChange::Pragma)),
            ("PRAGMA writable_schema=1", Schema(SchemaChange::Pragma)),
            ("pragma optimize", Schema(SchemaChange::Pragma)),
            ("ANALYZE", Schema(SchemaChange::Maintenance)),
            ("ATTACH 'x.db' AS x", Schema(SchemaChange::Attach)),
            (
                "UPDATE [sqlite_master] SET sql = ''",
                Schema(SchemaChange::SchemaTable),
            ),
            ("(SELECT 1)", Schema(SchemaChange::Unknown)),
            ("\"CREATE\" TABLE t(a)", Schema(SchemaChange::Unknown)),
        ] {
            assert_eq!(classify(sql), vec![want], "{sql}");
        }
    }
}
