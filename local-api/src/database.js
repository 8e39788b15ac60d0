// One D1 database: a Durable Object whose own SQLite storage holds the data, and whose key-value
// storage (out of reach of SQL) holds the time-travel history.
import { DurableObject } from "cloudflare:workers";
import { splitStatements } from "./split.js";

const MAX_PARAMS = 100;
const MAX_STATEMENT_BYTES = 100_000;
/** States kept for time travel; older ones are forgotten, as D1 forgets states past 30 days. */
export const HISTORY_LENGTH = 100;
// Key-value values are limited to about 2 MB, so snapshots are stored in parts.
const SNAPSHOT_PART = 1_000_000;

/** A SQL failure, with the message D1 gives (`<sqlite message>: SQLITE_ERROR`). */
export class SqlFailure extends Error {}

// Names the runtime reserves in a Durable Object's SQLite (and the table wrangler dev adds to
// every object); never shown to the user.
const USER_OBJECTS =
  "name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_\\_miniflare%' ESCAPE '\\'";

// Schema changes write no rows, yet change the database (and D1 reports them as changes).
const SCHEMA_CHANGE = /^\s*(CREATE|DROP|ALTER)\b/i;

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
const hex = (n, width) => n.toString(16).padStart(width, "0");

/** D1's form of a SQLite error, "<sqlite message>: SQLITE_<CODE>", without workerd's "(extended: …)". */
function sqlFailure(error) {
  if (error instanceof SqlFailure) return error;
  const message = String(error?.message ?? error)
    .replace(/^Error: /, "")
    .replace(/\s*\(extended: [A-Z_]+\)\s*$/, "");
  return new SqlFailure(/: SQLITE_[A-Z_]+$/.test(message) ? message : `${message}: SQLITE_ERROR`);
}

export class LocalDatabase extends DurableObject {
  /**
   * Runs statements `[{sql, params}]` in one transaction: all or none. `raw` gives rows as arrays
   * with the column names once. Throws SqlFailure with D1's message on a SQL error. `duration`
   * is left to the caller: the runtime's clock stands still while this runs.
   */
  async run(statements, raw) {
    const sql = this.ctx.storage.sql;
    for (const { sql: text, params } of statements) {
      if (new TextEncoder().encode(text).length > MAX_STATEMENT_BYTES) {
        throw new SqlFailure("statement too long: SQLITE_TOOBIG");
      }
      if (params.length > MAX_PARAMS) throw new SqlFailure("too many SQL variables: SQLITE_ERROR");
    }
    await this.history(); // the state before the first change is a bookmark too
    let results;
    try {
      results = this.ctx.storage.transactionSync(() =>
        statements.map(({ sql: text, params }) => {
          const cursor = sql.exec(text, ...params);
          const columns = cursor.columnNames;
          const rows = [...cursor.raw()].map((row) => row.map(plain));
          const written = cursor.rowsWritten;
          const changed = written > 0 || SCHEMA_CHANGE.test(text);
          const counts = written > 0 ? sql.exec("SELECT changes() AS c, last_insert_rowid() AS id").one() : { c: 0, id: 0 };
          const meta = {
            served_by_primary: true,
            changes: counts.c,
            last_row_id: counts.id,
            changed_db: changed,
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
      throw sqlFailure(error);
    }
    if (results.some((r) => r.meta.changed_db)) await this.record();
    return results;
  }

  /**
   * Runs a SQL file (`;`-separated statements, no parameters) in one transaction, as an import
   * does. Returns `{num_queries, meta, final_bookmark}`; throws SqlFailure and changes nothing on
   * an error.
   */
  async runFile(text) {
    const statements = splitStatements(text).map((sql) => ({ sql, params: [] }));
    const results = await this.run(statements, true);
    const sum = (key) => results.reduce((n, r) => n + r.meta[key], 0);
    return {
      num_queries: statements.length,
      meta: {
        changed_db: results.some((r) => r.meta.changed_db),
        changes: sum("changes"),
        rows_read: sum("rows_read"),
        rows_written: sum("rows_written"),
        size_after: this.ctx.storage.sql.databaseSize,
      },
      final_bookmark: (await this.history()).at(-1).bookmark,
    };
  }

  /** Keeps part `i` of an import's file (its text) until runStagedImport. */
  async stageImport(token, i, text) {
    await this.ctx.storage.put(`import:${token}:${i}`, text);
  }

  /** Runs the file whose `parts` were staged under `token`, as runFile does, then forgets them. */
  async runStagedImport(token, parts) {
    const keys = Array.from({ length: parts }, (_, i) => `import:${token}:${i}`);
    try {
      let text = "";
      // A get or delete takes at most 128 keys.
      for (let i = 0; i < keys.length; i += 100) {
        const got = await this.ctx.storage.get(keys.slice(i, i + 100));
        for (const key of keys.slice(i, i + 100)) text += got.get(key) ?? "";
      }
      return await this.runFile(text);
    } finally {
      for (let i = 0; i < keys.length; i += 100) await this.ctx.storage.delete(keys.slice(i, i + 100));
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

  /**
   * Takes a dump for an export and keeps it here in parts of at most SNAPSHOT_PART characters
   * under `token` (an RPC message is capped at 32 MiB, a dump is not); returns how many parts.
   * The account copies them out with exportPart, then drops them with dropExport.
   */
  async keepExport(token, options) {
    const dump = this.dump(options);
    const entries = [];
    for (let i = 0; i * SNAPSHOT_PART < dump.length; i++) entries.push([`export:${token}:${i}`, dump.slice(i * SNAPSHOT_PART, (i + 1) * SNAPSHOT_PART)]);
    // A put takes at most 128 keys.
    for (let i = 0; i < entries.length; i += 100) await this.ctx.storage.put(Object.fromEntries(entries.slice(i, i + 100)));
    return entries.length;
  }

  /** Part `i` of the export kept under `token`. */
  async exportPart(token, i) {
    return this.ctx.storage.get(`export:${token}:${i}`);
  }

  /** Forgets the export kept under `token`. */
  async dropExport(token, parts) {
    const keys = Array.from({ length: parts }, (_, i) => `export:${token}:${i}`);
    for (let i = 0; i < keys.length; i += 100) await this.ctx.storage.delete(keys.slice(i, i + 100));
  }

  // ---- Time travel: every change is a state with a bookmark, kept as a dump ---------------------

  /** `[{bookmark, at}]`, oldest first; started with the current state on first use. */
  async history() {
    const history = await this.ctx.storage.get("tt:history");
    return history ?? [await this.record()];
  }

  /** Records the current state as the newest bookmark; returns its entry. */
  async record() {
    const storage = this.ctx.storage;
    const history = (await storage.get("tt:history")) ?? [];
    let salt = await storage.get("tt:salt");
    if (!salt) {
      salt = crypto.randomUUID().replaceAll("-", "");
      await storage.put("tt:salt", salt);
    }
    const at = Date.now();
    const version = (history.at(-1)?.version ?? -1) + 1;
    const bookmark = `${hex(version, 8)}-${hex(Math.floor(at / 2 ** 32), 8)}-${hex(at % 2 ** 32, 8)}-${salt}`;
    const dump = this.dump();
    const parts = {};
    for (let i = 0; i * SNAPSHOT_PART < dump.length; i++) parts[`tt:snap:${bookmark}:${i}`] = dump.slice(i * SNAPSHOT_PART, (i + 1) * SNAPSHOT_PART);
    const entry = { bookmark, at, version, parts: Object.keys(parts).length };
    history.push(entry);
    const forgotten = history.splice(0, Math.max(0, history.length - HISTORY_LENGTH));
    await storage.put({ ...parts, "tt:history": history });
    for (const old of forgotten) await storage.delete(this.partKeys(old));
    return entry;
  }

  partKeys({ bookmark, parts }) {
    return Array.from({ length: parts }, (_, i) => `tt:snap:${bookmark}:${i}`);
  }

  /** The newest bookmark at or before `at` (ms), or the current one without `at`; null if none. */
  async bookmark(at) {
    const history = await this.history();
    const found = at === undefined ? history.at(-1) : history.findLast((h) => h.at <= at);
    return found?.bookmark ?? null;
  }

  /**
   * Puts the database back in the state `bookmark` names. Returns `{bookmark, previous_bookmark}`
   * (the new state's and the one before the restore), or null for an unknown bookmark.
   */
  async restore(bookmark) {
    const history = await this.history();
    const target = history.find((h) => h.bookmark === bookmark);
    if (!target) return null;
    const stored = await this.ctx.storage.get(this.partKeys(target));
    const dump = this.partKeys(target).map((key) => stored.get(key)).join("");
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      sql.exec("PRAGMA defer_foreign_keys = ON");
      const objects = sql.exec(`SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger', 'table') AND ${USER_OBJECTS}`).toArray();
      for (const type of ["view", "trigger", "table"]) {
        for (const o of objects.filter((o) => o.type === type)) sql.exec(`DROP ${type.toUpperCase()} IF EXISTS ${ident(o.name)}`);
      }
      for (const statement of splitStatements(dump)) sql.exec(statement);
    });
    const previous = history.at(-1).bookmark;
    return { bookmark: (await this.record()).bookmark, previous_bookmark: previous };
  }

  /** Deletes every byte of the database, its history included. */
  async destroy() {
    await this.ctx.storage.deleteAll();
  }
}
