// Every kind of value a binding takes, bound as a parameter: selected at once and stored in a
// column of each affinity, then read back exactly (its type, its text, its bytes). A REST path
// must do with each what the binding does. And batches whose entries hold several `;`-joined
// statements: each entry answers its last statement, and the answer never fails after the batch
// committed.
import { outcome } from "./report.js";

// Integers near and past 2^53 are the JS numbers a caller can bind (2 ** 60 is exact as a double,
// and JSON writes it "1152921504606847000", as a binding sends it); reals at the edges of doubles;
// text with NUL and characters outside the Basic Multilingual Plane.
export const VALUES = {
  null: null,
  zero: 0,
  negativeZero: -0,
  one: 1,
  minusOne: -1,
  maxSafe: Number.MAX_SAFE_INTEGER,
  minSafe: Number.MIN_SAFE_INTEGER,
  past53: 2 ** 53 + 2,
  p60: 2 ** 60,
  minusP62: -(2 ** 62),
  p63: 2 ** 63,
  minusP63: -(2 ** 63),
  p64: 2 ** 64,
  e21: 1e21,
  half: 0.5,
  tenth: 0.1,
  tenthPlusFifth: 0.1 + 0.2,
  third: 1 / 3,
  pi: Math.PI,
  small: 1e-7,
  epsilon: Number.EPSILON,
  minSubnormal: Number.MIN_VALUE,
  minusMinSubnormal: -Number.MIN_VALUE,
  minNormal: 2.2250738585072014e-308,
  maxValue: Number.MAX_VALUE,
  minusMaxValue: -Number.MAX_VALUE,
  nan: NaN,
  infinity: Infinity,
  minusInfinity: -Infinity,
  true: true,
  false: false,
  empty: "",
  nul: "a\u0000b",
  onlyNul: "\u0000",
  nonBmp: "😀 𝄞 𐍈 🏳️‍🌈",
  accents: "héllo, 世界 ∑",
  numericText: "42",
  paddedNumber: " 7 ",
  realText: "1e3",
  long: "x".repeat(3000),
};

/** `count` doubles spread over every exponent, the same on every path (a xorshift from a seed). */
export function someReals(count) {
  const bits = new BigUint64Array(1);
  const real = new Float64Array(bits.buffer);
  let x = 0x9e3779b97f4a7c15n;
  const reals = [];
  while (reals.length < count) {
    x ^= (x << 13n) & 0xffffffffffffffffn;
    x ^= x >> 7n;
    x ^= (x << 17n) & 0xffffffffffffffffn;
    bits[0] = x;
    if (Number.isFinite(real[0])) reals.push(real[0]);
  }
  return reals;
}

const READ =
  "SELECT k, v, typeof(v) AS tv, hex(v) AS hv, i, typeof(i) AS ti, CAST(i AS TEXT) AS xi, r, typeof(r) AS tr, " +
  "t, typeof(t) AS tt, hex(t) AS ht, n, typeof(n) AS tn FROM vt ORDER BY k";

export async function valuesCase(d1) {
  const same = {};
  const own = {};
  same.schema = await outcome(() => d1.exec("CREATE TABLE vt (k TEXT PRIMARY KEY, v, i INTEGER, r REAL, t TEXT, n NUMERIC)").then(({ count }) => count));
  // Each value selected at once: what the parameter is, with no column's affinity.
  same.selected = {};
  for (const [k, value] of Object.entries(VALUES)) {
    same.selected[k] = await outcome(() => d1.prepare("SELECT ? AS v, typeof(?) AS t, hex(?) AS h").bind(value, value, value).first());
  }
  // Each value stored in every column, in one batch.
  const insert = d1.prepare("INSERT INTO vt (k, v, i, r, t, n) VALUES (?, ?, ?, ?, ?, ?)");
  same.stored = await outcome(async () => (await d1.batch(Object.entries(VALUES).map(([k, v]) => insert.bind(k, v, v, v, v, v)))).length);
  same.read = await outcome(async () => Object.fromEntries((await d1.prepare(READ).all()).results.map((row) => [row.k, row])));
  // A NULL parameter where the SQL compares it: `IS ?` finds the NULLs, `= ?` nothing.
  same.isNull = await outcome(async () => (await d1.prepare("SELECT k FROM vt WHERE i IS ? ORDER BY k").bind(null).all()).results.map((r) => r.k));
  same.equalsNull = await outcome(async () => (await d1.prepare("SELECT k FROM vt WHERE i = ?").bind(null).all()).results);
  // An integer column compared with a number parameter (past 2^53 too).
  same.byNumber = await outcome(async () => (await d1.prepare("SELECT k FROM vt WHERE i = ? ORDER BY k").bind(2 ** 60).all()).results.map((r) => r.k));

  // Many doubles, bound and read back (as many as a statement takes): every digit must survive
  // the trip through each path's JSON, out and back.
  const reals = someReals(100);
  same.reals = await outcome(async () => {
    const [row] = await d1.prepare(`SELECT ${reals.map(() => "?").join(", ")}`).bind(...reals).raw();
    return row.filter((value, i) => value !== reals[i]).length;
  });

  // Blobs: a binding stores them; the REST API has no form for them, so a REST path refuses them
  // before anything runs (the batch's first statement is not run either).
  own.blob = await outcome(() => d1.prepare("SELECT ? AS v, typeof(?) AS t").bind(new Uint8Array([0, 1, 255]), new Uint8Array([0])).first());
  own.bytes = await outcome(() => d1.prepare("SELECT ? AS v").bind([0, 1, 255]).first("v"));
  own.buffer = await outcome(() => d1.prepare("SELECT ? AS v").bind(new Uint8Array([7]).buffer).first("v"));
  own.blobBatch = await outcome(() => d1.batch([insert.bind("before-blob", 1, 1, 1, "1", 1), insert.bind("blob", new Uint8Array([1]), 1, 1, "1", 1)]));
  own.blobBatchRan = await outcome(() => d1.prepare("SELECT count(*) AS n FROM vt WHERE k IN ('before-blob', 'blob')").first("n"));
  return { same, own };
}

export async function severalCase(d1) {
  const same = {};
  same.schema = await outcome(() => d1.exec("CREATE TABLE bs (k TEXT PRIMARY KEY)").then(({ count }) => count));
  // Entries with several statements between entries with one (a `;` inside a string among them):
  // each answers its last statement's result.
  // Rows and the meta a caller acts on; rows read and written by an entry of several statements
  // are counted differently by each implementation.
  const answers = (results) => results.map(({ results, meta }) => ({ results, changes: meta.changes, changed_db: meta.changed_db, last_row_id: meta.changes > 0 ? meta.last_row_id : undefined }));
  same.batch = await outcome(async () =>
    answers(await d1.batch([
      d1.prepare("INSERT INTO bs (k) VALUES ('s1'); INSERT INTO bs (k) VALUES ('s2')"),
      d1.prepare("SELECT count(*) AS n FROM bs"),
      d1.prepare("INSERT INTO bs (k) VALUES (?)").bind("p;1"),
      d1.prepare("SELECT 'x;y' AS v"),
      d1.prepare("SELECT 1 AS one; SELECT 2 AS two;"),
      d1.prepare("SELECT k FROM bs ORDER BY k"),
    ])),
  );
  same.written = await outcome(async () => (await d1.prepare("SELECT k FROM bs ORDER BY k").all()).results.map((r) => r.k));
  // One entry with several statements, alone.
  same.alone = await outcome(async () => answers(await d1.batch([d1.prepare("INSERT INTO bs (k) VALUES ('a1'); SELECT count(*) AS n FROM bs")])));
  // Two entries, only the second with several statements.
  same.second = await outcome(async () => answers(await d1.batch([d1.prepare("SELECT 5 AS five"), d1.prepare("INSERT INTO bs (k) VALUES ('b1'); SELECT count(*) AS n FROM bs")])));
  // Not in a batch: one statement of several, answered as one.
  same.prepared = await outcome(async () => answers([await d1.prepare("INSERT INTO bs (k) VALUES ('c1'); INSERT INTO bs (k) VALUES ('c2')").run()]));
  // A failing statement inside an entry undoes the whole batch.
  const failed = await outcome(() => d1.batch([d1.prepare("INSERT INTO bs (k) VALUES ('f1')"), d1.prepare("INSERT INTO bs (k) VALUES ('f2'); INSERT INTO nope VALUES (1)")]));
  same.failed = failed.error?.startsWith("D1_ERROR: no such table: nope") ?? failed;
  same.afterFailed = await outcome(async () => (await d1.prepare("SELECT count(*) AS n FROM bs WHERE k LIKE 'f%'").first("n")));
  return { same };
}
