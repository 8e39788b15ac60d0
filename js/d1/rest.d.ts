/**
 * D1's Workers API over the D1 REST API: {@link RestD1Database} behaves as a D1 binding does, so
 * `drizzle-orm/d1`, `kysely-d1` and plain `env.DB` code run on it unchanged.
 *
 * The D1 interfaces below carry the names `@cloudflare/workers-types` gives them, and the same
 * shapes, so a RestD1Database is accepted where that package's `D1Database` is expected.
 * @packageDocumentation
 */

/** Where a session starts: on the primary, or wherever is nearest. */
export type D1SessionConstraint = "first-primary" | "first-unconstrained";
/** A point in a database's history; a session started from it reads at least that state. */
export type D1SessionBookmark = string;

/** What a query reports besides its rows. */
export interface D1Meta {
  duration: number;
  size_after: number;
  rows_read: number;
  rows_written: number;
  last_row_id: number;
  changed_db: boolean;
  changes: number;
  /** The region of the database instance that answered. */
  served_by_region?: string;
  /** Whether the primary answered (always, over the REST API). */
  served_by_primary?: boolean;
  timings?: { sql_duration_ms: number };
  [key: string]: unknown;
}

export interface D1Response {
  success: true;
  meta: D1Meta & Record<string, unknown>;
  error?: never;
}

/** A statement's rows as objects (a repeated column name keeps its last value), with meta. */
export type D1Result<T = unknown> = D1Response & { results: T[] };

/** What exec() reports: how many lines (queries) ran, and for how long. */
export interface D1ExecResult {
  count: number;
  duration: number;
}

export interface D1PreparedStatement {
  /**
   * A copy with these values bound to the `?` parameters. D1's rules: strings and numbers as
   * they are, booleans as 1 and 0, `null`, and blobs (ArrayBuffer, a view of one, an array of
   * bytes); anything else throws `D1_TYPE_ERROR`.
   */
  bind(...values: unknown[]): D1PreparedStatement;
  /** The first row's `column`, or null without rows; `D1_COLUMN_NOTFOUND` when there is no such column. */
  first<T = unknown>(column: string): Promise<T | null>;
  /** The first row, or null. */
  first<T = Record<string, unknown>>(): Promise<T | null>;
  run<T = Record<string, unknown>>(): Promise<D1Result<T>>;
  all<T = Record<string, unknown>>(): Promise<D1Result<T>>;
  /** Rows as arrays, the column names first with `columnNames: true`. */
  raw<T = unknown[]>(options: { columnNames: true }): Promise<[string[], ...T[]]>;
  raw<T = unknown[]>(options?: { columnNames?: false }): Promise<T[]>;
}

export interface D1DatabaseSession {
  prepare(query: string): D1PreparedStatement;
  batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]>;
  /** The bookmark to start a later session from, to read at least this session's writes; null before any query. */
  getBookmark(): D1SessionBookmark | null;
}

export interface D1Database {
  prepare(query: string): D1PreparedStatement;
  /** Runs the statements in order, in one transaction: all of them or none. */
  batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]>;
  /** Runs SQL without parameters, one query per line. */
  exec(query: string): Promise<D1ExecResult>;
  withSession(constraintOrBookmark?: D1SessionBookmark | D1SessionConstraint): D1DatabaseSession;
  dump(): Promise<ArrayBuffer>;
}

/**
 * One statement of a REST query body. Parameters are the JSON values a D1 binding sends: strings,
 * numbers and null (the published schema says strings; the API takes all three).
 */
export interface RestD1Statement {
  sql: string;
  params: (string | number | null)[];
}

/** The body of `POST /accounts/{account_id}/d1/database/{database_id}/raw`. */
export type RestD1Body = RestD1Statement | { batch: RestD1Statement[] };

/** One statement's answer from the raw endpoint. */
export interface RestD1RawResult {
  results: { columns: string[]; rows: unknown[][] };
  success: boolean;
  meta: D1Meta;
}

/**
 * Posts `body` to the D1 REST API's raw endpoint and resolves with the envelope's `result` (one
 * entry per statement); rejects with an Error carrying the API's message (for SQL,
 * `<sqlite message>: SQLITE_<CODE>`). Authentication, retries and rate limits are its business.
 */
export type RestD1Send = (body: RestD1Body) => Promise<RestD1RawResult[]>;

/**
 * A D1 database reached over the D1 REST API, with a binding's API.
 *
 * Parameters travel as a binding sends them (the same JSON text reaches D1): strings, numbers
 * and `null` as they are, booleans as 1 and 0, NaN and infinite numbers as `null`. A batch entry
 * holding several `;`-joined statements answers its last statement's result, as on a binding.
 *
 * Differences from a binding, all from the REST API:
 * - Blobs cannot be sent: binding one throws `D1_TYPE_ERROR` before any call (write `X'…'` into
 *   the SQL instead).
 * - Every query is answered by the primary. A session's bookmark after a query is
 *   `"first-primary"`: the REST API names no version, and that starting point reads every write.
 * - exec() errors do not name the failing line; dump() throws `D1_DUMP_ERROR` (use an export).
 */
export declare class RestD1Database implements D1Database {
  constructor(send: RestD1Send);
  prepare(query: string): D1PreparedStatement;
  batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]>;
  exec(query: string): Promise<D1ExecResult>;
  withSession(constraintOrBookmark?: D1SessionBookmark | D1SessionConstraint): D1DatabaseSession;
  /** Always rejects with `D1_DUMP_ERROR`: the REST API has no dump; export the database instead. */
  dump(): Promise<ArrayBuffer>;
}
