// Each tenant's database schema, as drizzle sees it, and the migration that makes it.
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const notes = sqliteTable(
  "notes",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    author: text("author").notNull(),
    body: text("body").notNull(),
  },
  (t) => [index("notes_author").on(t.author)],
);

export const MIGRATION = [
  "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY AUTOINCREMENT, author TEXT NOT NULL, body TEXT NOT NULL)",
  "CREATE INDEX IF NOT EXISTS notes_author ON notes (author)",
];
