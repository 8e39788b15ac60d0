// The body of a query or raw call: `{sql, params?}` or `{batch: [{sql, params?}]}`, where `sql`
// may hold several `;`-joined statements. `params` are JSON strings, numbers and null: the
// published schema says strings, and the real API takes numbers and null too and binds them as
// such (what D1's own binding sends); a boolean, array or object is refused, as nothing says the
// real API takes one.
import { malformed } from "./envelope.js";
import { splitStatements } from "./split.js";

/** One `{sql, params?}`, as the statements `[{sql, params}]` it holds. */
function entry(value, where) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw malformed(`${where} is an object { sql, params? }`);
  const unknown = Object.keys(value).find((key) => key !== "sql" && key !== "params");
  if (unknown) throw malformed(`${where} has an unknown field ${unknown}`);
  if (typeof value.sql !== "string") throw malformed(`${where} needs sql, a string`);
  const params = value.params ?? [];
  if (!Array.isArray(params) || !params.every((p) => p === null || typeof p === "string" || typeof p === "number")) {
    throw malformed(`${where}: params is an array of strings, numbers and null`);
  }
  const parts = splitStatements(value.sql);
  if (parts.length > 1 && params.length > 0) throw malformed(`${where}: params can only be used with a single statement`);
  return parts.map((sql) => ({ sql, params: parts.length > 1 ? [] : params }));
}

/** The statements a query or raw body asks for, in order; throws a 7400 for a bad body. */
export function statementsOf(body) {
  let statements;
  if (body !== null && typeof body === "object" && "batch" in body) {
    if (Object.keys(body).length > 1) throw malformed("batch comes alone, without sql or params");
    if (!Array.isArray(body.batch)) throw malformed("batch is an array of { sql, params? }");
    statements = body.batch.flatMap((s, i) => entry(s, `batch[${i}]`));
  } else {
    statements = entry(body, "the body");
  }
  if (statements.length === 0) throw malformed("No SQL statements to run");
  return statements;
}
