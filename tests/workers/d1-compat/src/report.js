// What a case reports: results made comparable across the two paths and sendable as JSON.

/** The meta fields both paths must agree on (duration, size and where it was served differ by nature). */
const COMPARED_META = ["changes", "last_row_id", "changed_db", "rows_read", "rows_written"];

/**
 * Only the meta worth comparing: last_row_id means something only after a row changed (miniflare's
 * D1 then reports the connection's last insert, the local API 0).
 */
function comparedMeta(meta) {
  const compared = Object.fromEntries(COMPARED_META.map((k) => [k, meta[k]]));
  if (!(meta.changes > 0)) delete compared.last_row_id;
  return compared;
}

// Miniflare's D1 keeps workerd's "(extended: SQLITE_…)" after a SQLite error's code; D1 and its
// REST API end at the code.
const bare = (message) => message?.replace(/ \(extended: SQLITE_[A-Z_]+\)$/, "");

/** A value as JSON can carry it: bigints as "<n>n", D1 results with the compared meta only. */
export function plain(value) {
  if (typeof value === "bigint") return `${value}n`;
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    if ("meta" in value && "success" in value) {
      return { success: value.success, results: plain(value.results), meta: comparedMeta(value.meta) };
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** Runs `f`; its value, or the error it threw as `{error, cause}`. */
export async function outcome(f) {
  try {
    return plain(await f());
  } catch (error) {
    return { error: bare(error.message), cause: bare(error.cause?.message) };
  }
}

/** The type of each meta field D1 documents, to show they are all there. */
export function metaTypes(meta) {
  return Object.fromEntries(["changes", "last_row_id", "changed_db", "duration", "rows_read", "rows_written", "size_after"].map((k) => [k, typeof meta[k]]));
}
