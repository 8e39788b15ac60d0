// drizzle-orm/d1 as its users write it: a schema with an indexed column, the four operations, a
// join (two `id` columns in one row), db.batch, and a batch whose failing statement undoes it all.
import { drizzle } from "drizzle-orm/d1";
import { sqliteTable, integer, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { asc, eq, sql } from "drizzle-orm";
import { outcome, plain } from "./report.js";

const users = sqliteTable(
  "d_users",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    email: text("email").notNull(),
    name: text("name").notNull(),
    age: integer("age"),
  },
  (t) => [uniqueIndex("d_users_email").on(t.email)],
);
const notes = sqliteTable("d_notes", {
  id: integer("id").primaryKey(),
  userId: integer("user_id").notNull().references(() => users.id),
  body: text("body").notNull(),
});

// The schema as drizzle-kit would write it; one statement per line, as D1's exec wants.
const SCHEMA = [
  "CREATE TABLE d_users (id integer PRIMARY KEY AUTOINCREMENT NOT NULL, email text NOT NULL, name text NOT NULL, age integer)",
  "CREATE UNIQUE INDEX d_users_email ON d_users (email)",
  "CREATE TABLE d_notes (id integer PRIMARY KEY NOT NULL, user_id integer NOT NULL REFERENCES d_users(id), body text NOT NULL)",
];

export default async function drizzleCase(d1) {
  const schema = await outcome(() => d1.exec(SCHEMA.join("\n")).then(({ count }) => count));
  const db = drizzle(d1);
  const all = () => db.select().from(users).orderBy(asc(users.id));
  const same = { schema };
  same.insertOne = await outcome(() => db.insert(users).values({ email: "ada@example.com", name: "Ada", age: 36 }).returning());
  same.insertMany = await outcome(() =>
    db.insert(users).values([{ email: "grace@example.com", name: "Grace", age: 45 }, { email: "linus@example.com", name: "Linus" }]).returning({ id: users.id }),
  );
  same.byIndexedColumn = await outcome(() => db.select().from(users).where(eq(users.email, "grace@example.com")));
  same.update = await outcome(() => db.update(users).set({ age: sql`${users.age} + 1` }).where(eq(users.name, "Ada")).returning());
  same.note = await outcome(() => db.insert(notes).values({ userId: 1, body: "first note" }).run());
  same.join = await outcome(() => db.select().from(notes).innerJoin(users, eq(notes.userId, users.id)));
  same.delete = await outcome(() => db.delete(users).where(eq(users.name, "Linus")).returning({ id: users.id }));
  same.batch = await outcome(() =>
    db.batch([
      db.insert(users).values({ email: "edsger@example.com", name: "Edsger", age: 72 }),
      db.update(users).set({ age: 46 }).where(eq(users.name, "Grace")),
      all(),
      db.select({ n: sql`count(*)` }).from(notes),
    ]),
  );
  const before = plain(await all());
  // The second insert breaks the unique index: the first must not stay.
  same.failingBatch = await outcome(() =>
    db.batch([
      db.insert(users).values({ email: "barbara@example.com", name: "Barbara" }),
      db.update(users).set({ age: 99 }).where(eq(users.name, "Ada")),
      db.insert(users).values({ email: "ada@example.com", name: "Ada again" }),
    ]),
  );
  same.after = plain(await all());
  same.rolledBack = JSON.stringify(same.after) === JSON.stringify(before);
  return { same, own: {} };
}
