// D1's own API: every SQLite value type stored and read back, raw(), first(), exec(), batch(),
// meta, D1's errors, and the bound values only a binding can send (blobs).
import { metaTypes, outcome } from "./report.js";

const UNICODE = "héllo, 世界 🌍 ∑ end";
const READ = "SELECT k, i, r, t, b, typeof(i) AS ti, typeof(r) AS tr, typeof(t) AS tt, typeof(b) AS tb, CAST(i AS TEXT) AS exact FROM vals ORDER BY k";

export default async function d1ApiCase(d1) {
  const same = {};
  const own = {};
  same.exec = await outcome(() => d1.exec("CREATE TABLE vals (k TEXT PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB)").then(({ count }) => count));
  const insert = d1.prepare("INSERT INTO vals (k, i, r, t, b) VALUES (?, ?, ?, ?, X'00017F80FF')");
  const written = await d1.prepare("INSERT INTO vals (k, i, r, t) VALUES (?, ?, ?, ?)").bind("typed", 42, 1.5, UNICODE).run();
  same.written = await outcome(() => written);
  same.metaTypes = metaTypes(written.meta);
  own.meta = written.meta;
  same.rows = await outcome(() =>
    d1.batch([
      insert.bind("blob", -7, -0.25, ""),
      d1.prepare("INSERT INTO vals (k, i, r, t, b) VALUES (?, ?, ?, ?, ?)").bind("nulls", null, null, null, null),
      d1.prepare("INSERT INTO vals (k, i) VALUES ('max', 9223372036854775807)"),
      // Past 2^53 a bound number is already rounded in JS: 9007199254740993 arrives as ...992.
      d1.prepare("INSERT INTO vals (k, i, r) VALUES (?, ?, ?)").bind("big", 9007199254740993, 1e21),
      d1.prepare("INSERT INTO vals (k, i, r) VALUES (?, ?, ?)").bind("bools", true, false),
      d1.prepare("INSERT INTO vals (k, i, r) VALUES (?, ?, ?)").bind("small", -9007199254740991, 5e-324),
    ]),
  );
  same.all = await outcome(() => d1.prepare(READ).all());
  same.raw = await outcome(() => d1.prepare(READ).raw());
  same.rawColumns = await outcome(() => d1.prepare(READ).raw({ columnNames: true }));
  same.rawEmpty = await outcome(() => d1.prepare("SELECT k, i FROM vals WHERE 0").raw({ columnNames: true }));
  same.first = await outcome(() => d1.prepare("SELECT * FROM vals WHERE k = ?").bind("typed").first());
  same.firstColumn = await outcome(() => d1.prepare("SELECT * FROM vals WHERE k = ?").bind("typed").first("t"));
  same.firstNone = await outcome(() => d1.prepare("SELECT * FROM vals WHERE 0").first("t"));
  same.firstMissingColumn = await outcome(() => d1.prepare("SELECT * FROM vals").first("nope"));
  own.inheritedName = await outcome(async () => typeof (await d1.prepare("SELECT 1 AS a").first("constructor")));
  same.repeatedNames = await outcome(async () => [await d1.prepare("SELECT 1 AS a, 2 AS a, 3 AS '1'").all(), await d1.prepare("SELECT 1 AS a, 2 AS a").raw({ columnNames: true })]);
  same.severalStatements = await outcome(() => d1.prepare("SELECT 1 AS one; SELECT 2 AS two").all());
  same.execLines = await outcome(() =>
    d1.exec("INSERT INTO vals (k) VALUES ('e1');\nINSERT INTO vals (k) VALUES ('e2'); INSERT INTO vals (k) VALUES ('e3')").then(({ count }) => count),
  );
  own.execBlankLine = await outcome(() => d1.exec("INSERT INTO vals (k) VALUES ('b1');\n\nINSERT INTO vals (k) VALUES ('b2');\n-- a comment\n").then(({ count }) => count));
  same.execCounted = await outcome(() => d1.prepare("SELECT count(*) AS n FROM vals WHERE k LIKE 'e%'").first("n"));
  const execFailed = await outcome(() => d1.exec("INSERT INTO vals (k) VALUES ('e4');\nSELECT * FROM nope"));
  same.execFailed = execFailed.error.startsWith("D1_EXEC_ERROR: ") && execFailed.error.endsWith("no such table: nope: SQLITE_ERROR");
  own.execFailed = execFailed;
  same.execRolledBack = await outcome(() => d1.prepare("SELECT count(*) AS n FROM vals WHERE k = 'e4'").first("n"));
  same.sqlError = await outcome(() => d1.prepare("SELECT * FROM nope").all());
  same.constraint = await outcome(() => insert.bind("typed", 1, 1, "again").run());
  same.emptyBatch = await outcome(() => d1.batch([]));
  same.refusedByD1 = {
    undefined: await outcome(() => d1.prepare("SELECT ?").bind(undefined).all()),
    bigint: await outcome(() => d1.prepare("SELECT ?").bind(5n).all()),
    object: await outcome(() => d1.prepare("SELECT ?").bind({ a: 1 }).all()),
    date: await outcome(() => d1.prepare("SELECT ?").bind(new Date(0)).all()),
  };
  same.dump = await outcome(() => d1.dump().then(() => "dumped"));
  same.dump = same.dump.error?.startsWith("D1_DUMP_ERROR: ") ?? same.dump;
  // NULL and non-finite numbers as parameters (a binding's JSON makes NULL of NaN), and numbers
  // that stay numbers without a column's affinity.
  same.nullish = {
    null: await outcome(() => d1.prepare("SELECT ? AS v").bind(null).first("v")),
    nan: await outcome(() => d1.prepare("SELECT ? AS v").bind(NaN).first("v")),
  };
  same.untyped = await outcome(() => d1.prepare("SELECT ? AS v, typeof(?) AS t, ? + 1 AS sum").bind(42, 42, 42).first());
  // What only a binding can send: blobs as parameters.
  own.unsendable = {
    blob: await outcome(() => d1.prepare("SELECT ? AS v").bind(new Uint8Array([0, 1, 255])).first("v")),
    bytes: await outcome(() => d1.prepare("SELECT ? AS v").bind([0, 1, 255]).first("v")),
  };
  return { same, own };
}
