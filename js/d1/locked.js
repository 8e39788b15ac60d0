// A tenant database of a schema group, as the factory hands it out: D1's Workers API over the
// tenant's binding or RestD1Database, with the schema lock Rust decides (src/schema/lock.rs)
// checked before every statement runs. `lock` is where the tenant stands now, set by the factory
// each time it reads the tenant's location: "schema" (no schema change: 403 `blocked`),
// "migrating" (reads only while its group migrates: 503 `schema_migrating`) or "open".
//
// Checked when a statement runs, not when it is prepared: D1 reports a bad statement when it
// runs, and a statement prepared before a migration began is held like one prepared after.

/** The statement under `statement`, and its SQL, for a batch. */
const INNER = Symbol("edge-tenancy statement");

// Verdicts per lock and SQL text, so that a route's statements cross into wasm once: bounded,
// started over when full.
const MAX_VERDICTS = 1000;

/** Where a tenant stands, shared by its database and that database's sessions. */
export class SchemaGuard {
  #check;
  #verdicts = new Map();
  /** "open", "schema" or "migrating". */
  lock = "open";

  /** `check(sql, lock)` throws the error a statement gets. */
  constructor(check) {
    this.#check = check;
  }

  /** Throws what `sql` may not do under the lock. */
  check(sql) {
    if (this.lock === "open") return;
    const key = `${this.lock}\n${sql}`;
    const known = this.#verdicts.get(key);
    if (known === true) return;
    if (known !== undefined) throw known;
    try {
      this.#check(sql, this.lock);
      this.#remember(key, true);
    } catch (error) {
      this.#remember(key, error);
      throw error;
    }
  }

  #remember(key, verdict) {
    if (this.#verdicts.size >= MAX_VERDICTS) this.#verdicts.clear();
    this.#verdicts.set(key, verdict);
  }
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
      const held = statement?.[INNER];
      if (held === undefined) throw new TypeError("batch() takes statements made by prepare() of this database");
      this.#guard.check(held.sql);
      return held.statement;
    });
    return this.#database.batch(inner);
  }

  async exec(sql) {
    this.#guard.check(sql);
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
  }

  get [INNER]() {
    return { sql: this.#sql, statement: this.#statement };
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
