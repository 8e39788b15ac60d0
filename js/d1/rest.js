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
// Parameters: the REST API types them as strings, so a value goes as text SQLite reads back as
// the same value where a column's affinity applies: text as is, a finite number as the shortest
// text that reads back as the same double ("42", "1.5", "1e+21"), a boolean as "1" or "0" (D1
// binds booleans as 1 and 0). Where no affinity applies (`SELECT ?`, an untyped column) SQLite keeps
// that text. NULL, blobs and NaN or infinite numbers have no such text: they are refused before
// any call (write NULL or X'…' into the SQL instead) rather than sent as something else.

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

function unsendable(what, instead) {
  return d1Error("D1_TYPE_ERROR", new Error(`${what} cannot be sent over the D1 REST API (its params are strings)${instead}`));
}

/** One bound value as the REST API's string; refuses what D1 refuses, in D1's words, and what has no exact string. */
function param(value) {
  switch (typeof value) {
    case "string":
      return value;
    case "boolean":
      return value ? "1" : "0";
    case "number":
      if (Number.isFinite(value)) return String(value);
      // A binding would store NULL for these (JSON has no NaN), which the REST API cannot send.
      throw unsendable(`${value}`, "; a binding would store NULL");
  }
  if (value === null) throw unsendable("a NULL parameter", ": write NULL into the SQL");
  if (isBlob(value)) throw unsendable("a blob parameter", ": write X'…' into the SQL");
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

  /** The statement's raw result. Several `;`-joined statements answer one result each; D1 gives the last. */
  async #one() {
    return (await this.#run(D1PreparedStatement.entry(this))).at(-1);
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

/** Runs statements in one call; the REST API runs one call's statements in one transaction. */
async function batch(run, statements) {
  if (statements.length === 0) throw d1Error("D1_ERROR", new Error("No SQL statements detected."));
  const results = await run({ batch: statements.map(D1PreparedStatement.entry) });
  // A statement holding several `;`-joined ones answers one result each: the pairing is lost.
  if (results.length !== statements.length) {
    throw d1Error("D1_ERROR", new Error(`the batch ran, but its ${statements.length} statements answered ${results.length} results: keep to one SQL statement per prepare() in a batch`));
  }
  return results.map(d1Result);
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
