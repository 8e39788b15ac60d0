// Read your writes with withSession(): a write in a session, its bookmark, and a new session from
// that bookmark (with drizzle and kysely on it) that reads the write.
import { drizzle } from "drizzle-orm/d1";
import { sqliteTable, integer, text } from "drizzle-orm/sqlite-core";
import { Kysely } from "kysely";
import { D1Dialect } from "kysely-d1";
import { outcome } from "./report.js";

const notes = sqliteTable("s_notes", { id: integer("id").primaryKey(), body: text("body").notNull() });

export async function sessionsCase(d1) {
  const same = {};
  const own = {};
  await d1.exec("CREATE TABLE s_notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  const writer = d1.withSession("first-primary");
  same.beforeAnyQuery = writer.getBookmark();
  same.unconstrained = d1.withSession().getBookmark();
  same.write = await outcome(() => writer.prepare("INSERT INTO s_notes (body) VALUES (?)").bind("written in a session").run());
  const bookmark = writer.getBookmark();
  same.bookmarkIsText = typeof bookmark === "string" && bookmark.length > 0;
  own.bookmark = bookmark;
  const reader = d1.withSession(bookmark);
  own.startsFrom = reader.getBookmark();
  same.read = await outcome(() => reader.prepare("SELECT body FROM s_notes").all());
  same.drizzle = await outcome(() => drizzle(reader).select().from(notes));
  same.kysely = await outcome(() => new Kysely({ dialect: new D1Dialect({ database: reader }) }).selectFrom("s_notes").select("body").execute());
  same.batch = await outcome(() => reader.batch([reader.prepare("INSERT INTO s_notes (body) VALUES ('second')"), reader.prepare("SELECT count(*) AS n FROM s_notes")]));
  same.bookmarkAfter = typeof reader.getBookmark();
  own.bookmarkAfter = reader.getBookmark();
  return { same, own };
}

/** A session from a bookmark the other path handed out: it reads what that path wrote. */
export async function fromBookmarkCase(d1, params) {
  const session = d1.withSession(params.get("bookmark"));
  return { same: await outcome(() => session.prepare("SELECT body FROM s_notes ORDER BY id").all()), own: {} };
}
