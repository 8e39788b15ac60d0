// D1's Workers API (what a D1 binding is) over the D1 REST API, so that code written for a binding
// (drizzle-orm/d1, kysely-d1, plain `env.DB` code) runs unchanged on a tenant database that no
// binding reaches yet. It speaks to the wire through one injected function and nothing else:
//
//   send(body) => Promise<result array>
//
// `body` is the body of `POST /accounts/{account}/d1/database/{id}/raw`: `{sql, params}` for one
// statement, `{batch: [{sql, params}, …]}` for several. `send` resolves with the envelope's `result`
// (one `{results: {columns, rows}, success, meta}` per statement) and rejects with an Error whose
// message is the API's (for SQL, `<sqlite message>: SQLITE_<CODE>`); auth, retries and rate limits
// are its business. The raw endpoint rather than query: query hands rows over as objects, which
// lose a repeated column name (a join's two `id`s) and the order of numeric names, and raw()
// (drizzle's selects) needs both.
//
// Parameters go as a binding sends them: D1's binding posts `{sql, params}` to D1 as JSON, with
// strings, numbers and null as they are, booleans as 1 and 0, and NaN and infinities as JSON
// writes them (null), and the REST API takes the same JSON values (its published schema says
// strings, but clients send numbers and null to the real API, which users report it binds as
// such). So a value is stored, compared and read back over REST as over a binding: the same JSON
// text reaches D1.
// A blob has no form the REST API takes (a binding sends an array of bytes, the REST API does not
// document one): binding one throws D1_TYPE_ERROR before any call; write X'…' into the SQL.
//
// A batch entry may hold several `;`-joined statements; the REST API answers one result per
// statement, and the call has committed by then. Each entry answers as a binding answers it, with
// its last statement's rows and meta over all of them, as prepare(sql).all() does: when entries
// may hold several, a marker statement goes between them (`SELECT 1 AS "<nonce>"`, in the same
// transaction) and the results are grouped by the markers.

/** What D1 names a session's starting points; any other string is a bookmark. */
const CONSTRAINTS = ["first-primary", "first-unconstrained"];

/** D1's form of an error: `<KIND>: <message>`, with the bare message as the cause. */
function d1Error(kind, error) {
  const cause = error instanceof Error ? error : new Error(String(error));
  return new Error(`${kind}: ${cause.message}`, { cause });
}

function describe(value) {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** D1 binds an ArrayBuffer, a view of one, or an array of bytes as a blob. */
const isBlob = (value) =>
  value instanceof ArrayBuffer ||
  ArrayBuffer.isView(value) ||
  (Array.isArray(value) && value.every((b) => typeof b === "number" && b >= 0 && b < 256));

/** One bound value as the REST API takes it, the JSON value a binding sends; refuses what D1 refuses, in D1's words, and a blob. */
function param(value) {
  switch (typeof value) {
    case "string":
      return value;
    case "boolean":
      return value ? 1 : 0;
    case "number":
      // JSON has no NaN or infinity: a binding's JSON says null, and so does this.
      return Number.isFinite(value) ? value : null;
  }
  if (value === null) return null;
  if (isBlob(value)) {
    throw d1Error("D1_TYPE_ERROR", new Error("a blob parameter cannot be sent over the D1 REST API (it takes strings, numbers and null): write X'…' into the SQL, or use a binding"));
  }
  throw d1Error("D1_TYPE_ERROR", new Error(`Type '${typeof value}' not supported for value '${describe(value)}'`));
}

/** Calls `send`, checks the answer is the raw endpoint's, and hands back one result per statement. */
async function call(send, body, kind = "D1_ERROR") {
  let answer;
  try {
    answer = await send(body);
  } catch (error) {
    throw d1Error(kind, error);
  }
  const shaped = (r) => Array.isArray(r?.results?.columns) && Array.isArray(r.results.rows);
  if (!Array.isArray(answer) || !answer.every(shaped)) {
    // An answer of the query endpoint (rows as objects) would lose columns; say so rather than guess.
    throw d1Error(kind, new Error("send(body) must resolve with the result of the D1 REST API's raw endpoint: [{results: {columns, rows}, success, meta}]"));
  }
  return answer;
}

/** A raw result as D1's `{results: [row objects], success, meta}`; a repeated name keeps its last value, as D1's does. */
function d1Result({ results: { columns, rows }, success, meta }) {
  return { success, meta: { ...meta }, results: rows.map((row) => Object.fromEntries(columns.map((name, i) => [name, row[i]]))) };
}

class D1PreparedStatement {
  #run;
  #sql;
  #params;
  /** @param run {(body) => Promise<object[]>} the database's or the session's way to the wire */
  constructor(run, sql, params = []) {
    this.#run = run;
    this.#sql = sql;
    this.#params = params;
  }

  bind(...values) {
    return new D1PreparedStatement(this.#run, this.#sql, values.map(param));
  }

  /** The statement's raw result. Several `;`-joined statements answer one result each: D1 gives the last one's rows. */
  async #one() {
    return combined(await this.#run(D1PreparedStatement.entry(this)));
  }

  async all() {
    return d1Result(await this.#one());
  }

  async run() {
    return this.all();
  }

  async first(column) {
    const row = (await this.all()).results[0] ?? null;
    if (column === undefined || row === null) return row;
    if (!Object.hasOwn(row, column)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`, { cause: new Error("Column not found") });
    return row[column];
  }

  async raw(options) {
    const { results } = await this.#one();
    return options?.columnNames ? [results.columns, ...results.rows] : results.rows;
  }

  /** The wire form of this statement as a batch entry. */
  static entry(statement) {
    if (!(#sql in Object(statement))) throw new TypeError("batch() takes statements made by prepare() of a RestD1Database");
    return { sql: statement.#sql, params: statement.#params };
  }
}

/** Whether `sql` may hold several statements: a `;` with more than blanks after it (one inside a
 * string literal counts too, which only costs a marker). */
const mayHoldSeveral = (sql) => /;\s*\S/.test(sql);

/** A result for an entry whose statements answered none (a comment, say). */
const EMPTY = { results: { columns: [], rows: [] }, success: true, meta: {} };

/**
 * One raw result for statements sent as one (`;`-joined), as a binding answers them: the last
 * one's rows, with meta over them all (changes, rows read and written and the duration summed,
 * changed_db if any changed the database, the last row id of the last one that changed rows).
 */
function combined(results) {
  if (results.length <= 1) return results[0] ?? EMPTY;
  const last = results.at(-1);
  const sum = (key) => results.reduce((n, r) => n + (r.meta?.[key] ?? 0), 0);
  const changer = results.findLast((r) => r.meta?.changes > 0) ?? last;
  const meta = { ...last.meta, changes: sum("changes"), rows_read: sum("rows_read"), rows_written: sum("rows_written"), duration: sum("duration") };
  meta.changed_db = results.some((r) => r.meta?.changed_db === true);
  meta.last_row_id = changer.meta?.last_row_id ?? 0;
  return { ...last, meta };
}

/** The results of one call grouped by entry: each entry's statements' results, in order. */
function byEntry(results, entries, marker) {
  if (marker === undefined) {
    if (entries === 1) return [results];
    // No entry holds a second statement, so there is one result per entry.
    if (results.length !== entries) {
      throw d1Error("D1_ERROR", new Error(`the D1 REST API answered ${results.length} results to ${entries} statements`));
    }
    return results.map((result) => [result]);
  }
  const groups = [[]];
  for (const result of results) {
    if (result.results.columns.length === 1 && result.results.columns[0] === marker) groups.push([]);
    else groups.at(-1).push(result);
  }
  if (groups.length !== entries) {
    throw d1Error("D1_ERROR", new Error(`the D1 REST API answered ${groups.length - 1} of the batch's ${entries - 1} markers`));
  }
  return groups;
}

/**
 * Runs statements in one call; the REST API runs one call's statements in one transaction. An
 * entry holding several `;`-joined statements answers as one (its last statement's rows), its
 * results found by markers between the entries, so the answer never fails after the batch
 * committed.
 */
async function batch(run, statements) {
  if (statements.length === 0) throw d1Error("D1_ERROR", new Error("No SQL statements detected."));
  const entries = statements.map(D1PreparedStatement.entry);
  let marker;
  let sent = entries;
  if (entries.length > 1 && entries.some((entry) => mayHoldSeveral(entry.sql))) {
    marker = `edge-tenancy batch entry ${crypto.randomUUID()}`;
    const between = { sql: `SELECT 1 AS "${marker}"`, params: [] };
    sent = entries.flatMap((entry, i) => (i === 0 ? [entry] : [between, entry]));
  }
  const results = await run({ batch: sent });
  return byEntry(results, entries.length, marker).map((group) => d1Result(combined(group)));
}

/**
 * A session. The REST API answers every query from the primary, so every read already sees every
 * earlier write; there is no replica to steer. The REST API hands out no bookmark either: after a
 * query the session's bookmark is "first-primary", the one starting point that, passed to
 * withSession() on either path, reads at least what this session wrote.
 */
class D1DatabaseSession {
  #run;
  #bookmark;
  constructor(send, constraintOrBookmark) {
    if (constraintOrBookmark != null && typeof constraintOrBookmark !== "string") {
      throw new TypeError("withSession() takes a bookmark or \"first-primary\" or \"first-unconstrained\"");
    }
    this.#bookmark = CONSTRAINTS.includes(constraintOrBookmark) ? null : (constraintOrBookmark ?? null);
    this.#run = async (body) => {
      const results = await call(send, body);
      this.#bookmark = "first-primary";
      return results;
    };
  }

  prepare(sql) {
    return new D1PreparedStatement(this.#run, sql);
  }

  batch(statements) {
    return batch(this.#run, statements);
  }

  getBookmark() {
    return this.#bookmark;
  }
}

export class RestD1Database {
  #send;
  #run;
  /** @param send {(body) => Promise<object[]>} posts a raw-endpoint body, resolves with its `result` */
  constructor(send) {
    if (typeof send !== "function") throw new TypeError("RestD1Database needs send(body) => Promise<result array>");
    this.#send = send;
    this.#run = (body) => call(send, body);
  }

  prepare(sql) {
    return new D1PreparedStatement(this.#run, sql);
  }

  batch(statements) {
    return batch(this.#run, statements);
  }

  /**
   * Runs SQL without parameters. As D1's binding does, each line is one query (a statement may
   * not span lines) and `count` is the number of lines; all of them go in one call, so one
   * transaction. The REST API does not say which line failed, so the error names none.
   */
  async exec(sql) {
    const lines = sql.trim().split("\n");
    const results = await call(this.#send, { batch: lines.map((line) => ({ sql: line, params: [] })) }, "D1_EXEC_ERROR");
    return { count: lines.length, duration: results.reduce((sum, r) => sum + (r.meta?.duration ?? 0), 0) };
  }

  withSession(constraintOrBookmark) {
    return new D1DatabaseSession(this.#send, constraintOrBookmark);
  }

  async dump() {
    throw d1Error("D1_DUMP_ERROR", new Error("dump() is not available over the D1 REST API; export the database instead (POST …/d1/database/{id}/export)"));
  }
}
