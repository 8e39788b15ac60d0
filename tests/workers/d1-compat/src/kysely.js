// kysely with kysely-d1 as its users write it: the schema builder with an indexed column, the four
// operations, a join, a batch of compiled queries on the D1 database, and a failing batch.
import { Kysely, sql } from "kysely";
import { D1Dialect } from "kysely-d1";
import { outcome, plain } from "./report.js";

/** A batch as kysely users run one: compiled queries, bound and batched on D1 itself. */
const batch = (d1, queries) => d1.batch(queries.map((q) => q.compile()).map(({ sql, parameters }) => d1.prepare(sql).bind(...parameters)));

export default async function kyselyCase(d1) {
  const db = new Kysely({ dialect: new D1Dialect({ database: d1 }) });
  const all = () => db.selectFrom("k_users").selectAll().orderBy("id").execute();
  const same = {};
  same.schema = await outcome(async () => {
    await db.schema
      .createTable("k_users")
      .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
      .addColumn("email", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("age", "integer")
      .execute();
    await db.schema.createIndex("k_users_email").unique().on("k_users").column("email").execute();
    await db.schema
      .createTable("k_notes")
      .addColumn("id", "integer", (c) => c.primaryKey())
      .addColumn("user_id", "integer", (c) => c.notNull().references("k_users.id"))
      .addColumn("body", "text", (c) => c.notNull())
      .execute();
    // Not db.introspection: D1 refuses the PRAGMA functions it reads (SQLITE_AUTH), on both paths.
    const { rows } = await sql`SELECT type, name FROM sqlite_master WHERE name LIKE 'k_%' ORDER BY name`.execute(db);
    return rows;
  });
  same.insertOne = await outcome(() => db.insertInto("k_users").values({ email: "ada@example.com", name: "Ada", age: 36 }).returningAll().executeTakeFirstOrThrow());
  same.insertMany = await outcome(() =>
    db.insertInto("k_users").values([{ email: "grace@example.com", name: "Grace", age: 45 }, { email: "linus@example.com", name: "Linus" }]).executeTakeFirst(),
  );
  // limit(1) is a bound parameter: over REST it travels as the text "1".
  same.byIndexedColumn = await outcome(() => db.selectFrom("k_users").selectAll().where("email", "=", "grace@example.com").limit(1).execute());
  same.update = await outcome(() => db.updateTable("k_users").set((eb) => ({ age: eb("age", "+", 1) })).where("name", "=", "Ada").executeTakeFirst());
  same.note = await outcome(() => db.insertInto("k_notes").values({ user_id: 1, body: "first note" }).executeTakeFirst());
  same.join = await outcome(() =>
    db.selectFrom("k_notes").innerJoin("k_users", "k_users.id", "k_notes.user_id").select(["k_notes.id as note", "k_users.id as user", "k_users.name", "body"]).execute(),
  );
  same.delete = await outcome(() => db.deleteFrom("k_users").where("name", "=", "Linus").executeTakeFirst());
  same.batch = await outcome(() =>
    batch(d1, [
      db.insertInto("k_users").values({ email: "edsger@example.com", name: "Edsger", age: 72 }),
      db.updateTable("k_users").set({ age: 46 }).where("name", "=", "Grace"),
      db.selectFrom("k_users").selectAll().orderBy("id"),
    ]),
  );
  const before = plain(await all());
  same.failingBatch = await outcome(() =>
    batch(d1, [
      db.insertInto("k_users").values({ email: "barbara@example.com", name: "Barbara" }),
      db.updateTable("k_users").set({ age: 99 }).where("name", "=", "Ada"),
      db.insertInto("k_users").values({ email: "ada@example.com", name: "Ada again" }),
    ]),
  );
  same.after = plain(await all());
  same.rolledBack = JSON.stringify(same.after) === JSON.stringify(before);
  return { same, own: {} };
}
