// A D1 binding onto a database of the local API, for tests that apply a Worker's recorded
// bindings (as a deploy would) with miniflare's `wrappedBindings`: the Worker then reaches, through
// `env.<BINDING>`, the very database the local API created and the REST API writes to.
//
// It has D1's binding API (prepare, bind, first, all, run, raw, batch, exec, withSession) and
// answers in D1's shapes, running every statement on the database's Durable Object
// (LocalDatabase.run: one transaction per call, D1's error messages). Miniflare takes a wrapped
// binding as one module, so this file imports nothing.

/** D1 reports a failed statement as an Error whose message starts with `D1_ERROR: `, with the
 * SQLite message as its cause. */
function d1Error(error) {
  const message = String(error?.message ?? error).replace(/^Error: /, "");
  return new Error(`D1_ERROR: ${message}`, { cause: new Error(message) });
}

// Blobs cross to the Durable Object as ArrayBuffers, which its SQL takes.
const param = (value) => (ArrayBuffer.isView(value) ? value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength) : value);

class D1PreparedStatement {
  constructor(database, sql, params = []) {
    this.database = database;
    this.sql = sql;
    this.params = params;
  }

  bind(...values) {
    return new D1PreparedStatement(this.database, this.sql, values.map(param));
  }

  async all() {
    const [result] = await this.database.run([this], false);
    return result;
  }

  async run() {
    return this.all();
  }

  async first(column) {
    const row = (await this.all()).results[0] ?? null;
    if (column === undefined || row === null) return row;
    if (!(column in row)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
    return row[column];
  }

  async raw(options = {}) {
    const [{ results }] = await this.database.run([this], true);
    return options.columnNames ? [results.columns, ...results.rows] : results.rows;
  }
}

class D1DatabaseSession {
  constructor(database) {
    this.database = database;
    this.latest = null;
  }

  prepare(sql) {
    return new D1PreparedStatement(this, sql);
  }

  async batch(statements) {
    return this.run(statements, false);
  }

  async run(statements, raw) {
    const results = await this.database.run(statements, raw);
    this.latest = await this.database.stub.bookmark();
    return results;
  }

  getBookmark() {
    return this.latest;
  }
}

export class D1Database {
  constructor(env) {
    this.env = env;
  }

  /** Which of the local API's databases this binding reaches: the factory uses a tenant's
   * binding under the local API only when it names the tenant's database (a D1 that wrangler dev
   * makes for a declared binding is another, empty database). */
  get localApiDatabase() {
    return this.env.id;
  }

  /** The database's Durable Object, reached anew by each call: the binding is made at the
   * Worker's start, where no I/O may happen, and a stub belongs to the request that made it. */
  get stub() {
    return this.env.DATABASE.get(this.env.DATABASE.idFromName(this.env.id));
  }

  prepare(sql) {
    return new D1PreparedStatement(this, sql);
  }

  /** Runs statements in order in one transaction, all or none. */
  async batch(statements) {
    return this.run(statements, false);
  }

  /** Runs `;`-separated statements without parameters, in one transaction. */
  async exec(sql) {
    const started = Date.now();
    try {
      const { num_queries } = await this.stub.runFile(sql);
      return { count: num_queries, duration: Date.now() - started };
    } catch (error) {
      throw d1Error(error);
    }
  }

  /** A session: the local database has no replicas, so every read is the primary's; the bookmark
   * after each call is the database's newest. */
  withSession() {
    return new D1DatabaseSession(this);
  }

  async run(statements, raw) {
    try {
      return await this.stub.run(statements.map(({ sql, params }) => ({ sql, params })), raw);
    } catch (error) {
      throw d1Error(error);
    }
  }
}

/** The wrapped binding: `id` is the database's UUID, `DATABASE` the local API's namespace. */
export default function (env) {
  return new D1Database(env);
}
