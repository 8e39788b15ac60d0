// Type tests of rest.d.ts, checked by `tsc` with the package's: what must and must not compile.
import { RestD1Database, type D1Database, type D1Result, type RestD1Body, type RestD1RawResult, type RestD1Send } from "./rest.js";

declare function post(path: string, body: RestD1Body): Promise<{ result: RestD1RawResult[] }>;
const send: RestD1Send = async (body) => (await post("/raw", body)).result;
const db = new RestD1Database(send);
const asBinding: D1Database = db;

async function use() {
  const statement = db.prepare("SELECT id, name FROM users WHERE id = ?").bind(1, "x", true, null);
  const rows: D1Result<{ id: number; name: string }> = await statement.all<{ id: number; name: string }>();
  const name: string | null = await statement.first<string>("name");
  const first: { id: number } | null = await statement.first<{ id: number }>();
  const arrays: unknown[][] = await statement.raw();
  const [columns, ...rest]: [string[], ...unknown[][]] = await statement.raw({ columnNames: true });
  const changes: number = (await statement.run()).meta.changes;
  const results = await db.batch([statement, db.prepare("DELETE FROM users")]);
  const count: number = (await db.exec("DELETE FROM users")).count;
  const session = db.withSession("first-primary");
  await session.batch([session.prepare("SELECT 1")]);
  const bookmark: string | null = session.getBookmark();
  db.withSession(bookmark ?? undefined);
  void rows, name, first, arrays, columns, rest, changes, results, count, asBinding;
}
void use;

// @ts-expect-error send resolves with the result array, not the envelope
new RestD1Database(async (body: RestD1Body) => ({ result: [] }));
// A body's params are the JSON values a binding sends: strings, numbers and null.
const numbers: RestD1Body = { sql: "SELECT ?, ?, ?", params: ["a", 1, null] };
// @ts-expect-error a body's params are not booleans (bound as 1 and 0 before they are sent)
const booleans: RestD1Body = { sql: "SELECT ?", params: [true] };
// @ts-expect-error a session's constraint is one of D1's two
db.withSession(42);
// @ts-expect-error raw() without columnNames has no row of names first
const noNames: [string[], ...unknown[][]] = await db.prepare("SELECT 1").raw();
void numbers, booleans, noNames;
