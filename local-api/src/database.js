// One D1 database: a Durable Object whose own SQLite storage holds the data.
import { DurableObject } from "cloudflare:workers";

const MAX_PARAMS = 100;
const MAX_STATEMENT_BYTES = 100_000;

/** A SQL failure, with the message D1 gives (`<sqlite message>: SQLITE_ERROR`). */
export class SqlFailure extends Error {}

// Names the runtime reserves in a Durable Object's SQLite (and the table wrangler dev adds to
// every object); never shown to the user.
const USER_OBJECTS =
  "name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_\\_miniflare%' ESCAPE '\\'";

function bindable(value) {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value === null || typeof value === "number" || typeof value === "string") return value;
  throw new SqlFailure("a parameter is null, a boolean, a number or a string");
}

function plain(value) {
  return value instanceof ArrayBuffer ? [...new Uint8Array(value)] : value;
}

function quote(value) {
  if (value === null) return "NULL";
  if (typeof value === "number") return String(value);
  if (value instanceof ArrayBuffer) {
    return `X'${[...new Uint8Array(value)].map((b) => b.toString(16).padStart(2, "0")).join("")}'`;
  }
  return `'${String(value).replaceAll("'", "''")}'`;
}

const ident = (name) => `"${name.replaceAll('"', '""')}"`;

export class LocalDatabase extends DurableObject {
  /**
   * Runs statements `[{sql, params}]` in one transaction: all or none. `raw` gives rows as arrays
   * with the column names once. Throws SqlFailure with D1's message on a SQL error.
   */
  run(statements, raw) {
    const sql = this.ctx.storage.sql;
    for (const { sql: text, params } of statements) {
      if (new TextEncoder().encode(text).length > MAX_STATEMENT_BYTES) {
        throw new SqlFailure("statement too long: SQLITE_TOOBIG");
      }
      if (params.length > MAX_PARAMS) throw new SqlFailure("too many SQL variables: SQLITE_ERROR");
    }
    try {
      return this.ctx.storage.transactionSync(() =>
        statements.map(({ sql: text, params }) => {
          const started = performance.now();
          const cursor = sql.exec(text, ...params.map(bindable));
          const columns = cursor.columnNames;
          const rows = [...cursor.raw()].map((row) => row.map(plain));
          const written = cursor.rowsWritten;
          const counts = written > 0 ? sql.exec("SELECT changes() AS c, last_insert_rowid() AS id").one() : { c: 0, id: 0 };
          const meta = {
            served_by_region: "local",
            served_by_primary: true,
            duration: performance.now() - started,
            changes: counts.c,
            last_row_id: counts.id,
            changed_db: written > 0,
            size_after: sql.databaseSize,
            rows_read: cursor.rowsRead,
            rows_written: written,
          };
          const results = raw
            ? { columns, rows }
            : rows.map((row) => Object.fromEntries(columns.map((name, i) => [name, row[i]])));
          return { results, success: true, meta };
        }),
      );
    } catch (error) {
      if (error instanceof SqlFailure) throw error;
      // D1's form, "<sqlite message>: SQLITE_<CODE>", without workerd's "(extended: …)".
      const message = String(error?.message ?? error)
        .replace(/^Error: /, "")
        .replace(/\s*\(extended: [A-Z_]+\)\s*$/, "");
      throw new SqlFailure(/: SQLITE_[A-Z_]+$/.test(message) ? message : `${message}: SQLITE_ERROR`);
    }
  }

  /** Tables and size, as the get endpoint reports them. */
  info() {
    const sql = this.ctx.storage.sql;
    const tables = sql.exec(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND ${USER_OBJECTS}`).one().n;
    return { num_tables: tables, file_size: sql.databaseSize };
  }

  /** A SQL dump that recreates the database: tables and their rows, then indexes, triggers, views. */
  dump({ no_data = false, no_schema = false, tables = [] } = {}) {
    const sql = this.ctx.storage.sql;
    const objects = sql
      .exec(`SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL AND ${USER_OBJECTS} ORDER BY rowid`)
      .toArray()
      .filter((o) => tables.length === 0 || tables.includes(o.tbl_name));
    const lines = [];
    for (const table of objects.filter((o) => o.type === "table")) {
      if (!no_schema) lines.push(`${table.sql};`);
      if (no_data) continue;
      for (const row of sql.exec(`SELECT * FROM ${ident(table.name)}`).raw()) {
        lines.push(`INSERT INTO ${ident(table.name)} VALUES(${row.map(quote).join(",")});`);
      }
    }
    if (!no_schema) for (const o of objects.filter((o) => o.type !== "table")) lines.push(`${o.sql};`);
    return lines.join("\n") + "\n";
  }

  /** Deletes every byte of the database. */
  async destroy() {
    await this.ctx.storage.deleteAll();
  }
}
