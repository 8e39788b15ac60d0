// A tenant database of a schema group, as the factory hands it out: D1's Workers API over the
// tenant's binding or RestD1Database, with the schema lock Rust decides (src/schema/lock.rs)
// checked before every statement runs. `lock` is where the tenant stands now, set by the factory
// each time it reads the tenant's location: "schema" (no schema change: 403 `blocked`),
// "migrating" (reads only while its group migrates: 503 `schema_migrating`), "held" (the same for
// a caller who may change the schema: its schema changes wait too) or "open".
//
// Checked when a statement runs, not when it is prepared: D1 reports a bad statement when it
// runs, and a statement prepared before a hold began is held like one prepared after, as long
// as its guard is the one the factory keeps for the tenant.

/** Each statement made here, the statement under it and its SQL, for a batch: kept out of reach. */
const INNER = new WeakMap();

// Verdicts per lock and SQL text, for every tenant of the isolate (a verdict depends on neither
// the tenant nor the database), so that a route's statements cross into wasm once: bounded,
// started over when full.
const MAX_VERDICTS = 1000;
const verdicts = new Map();

/** Where a tenant stands, shared by its database and that database's sessions. */
export class SchemaGuard {
  #check;
  /** "open", "schema" (the default: a guard is closed until told otherwise), "migrating" or "held". */
  lock = "schema";

  /** `check(sql, lock)` throws the error a statement gets. */
  constructor(check) {
    this.#check = check;
  }

  /** Throws what `sql` may not do under the lock (or under `lock`). */
  check(sql, lock = this.lock) {
    if (lock === "open") return;
    const key = `${lock}\n${sql}`;
    const known = verdicts.get(key);
    if (known === true) return;
    if (known !== undefined) throw known;
    try {
      this.#check(sql, lock);
      remember(key, true);
    } catch (error) {
      remember(key, error);
      throw error;
    }
  }
}

function remember(key, verdict) {
  if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
  verdicts.set(key, verdict);
}

export class LockedD1Database {
  #database;
  #guard;

  constructor(database, guard) {
    this.#database = database;
    this.#guard = guard;
  }

  prepare(sql) {
    return new LockedStatement(this.#guard, sql, this.#database.prepare(sql));
  }

  async batch(statements) {
    const inner = statements.map((statement) => {
      const held = INNER.get(statement);
      if (held === undefined) throw new TypeError("batch() takes statements made by prepare() of this database");
      this.#guard.check(held.sql);
      return held.statement;
    });
    return this.#database.batch(inner);
  }

  // D1 runs each line of exec's text as a query of its own: each line is checked, and the whole.
  async exec(sql) {
    this.#guard.check(sql);
    for (const line of String(sql).split("\n")) if (line.trim() !== "") this.#guard.check(line);
    return this.#database.exec(sql);
  }

  async dump() {
    return this.#database.dump();
  }

  /** A session (D1 read replication) under the same lock; `getBookmark()` as D1's. */
  withSession(constraintOrBookmark) {
    const session = this.#database.withSession(constraintOrBookmark);
    const locked = new LockedD1Database(session, this.#guard);
    locked.getBookmark = () => session.getBookmark();
    return locked;
  }
}

class LockedStatement {
  #guard;
  #sql;
  #statement;

  constructor(guard, sql, statement) {
    this.#guard = guard;
    this.#sql = sql;
    this.#statement = statement;
    INNER.set(this, { sql, statement });
  }

  bind(...values) {
    return new LockedStatement(this.#guard, this.#sql, this.#statement.bind(...values));
  }

  async first(column) {
    this.#guard.check(this.#sql);
    return this.#statement.first(column);
  }

  async all() {
    this.#guard.check(this.#sql);
    return this.#statement.all();
  }

  async run() {
    this.#guard.check(this.#sql);
    return this.#statement.run();
  }

  async raw(options) {
    this.#guard.check(this.#sql);
    return this.#statement.raw(options);
  }
}
