// Names shared inside the package and not exported from it.

/** A tenancy's resolve that answers at once when it replays a kept answer, else with a Promise
 * (`tenancy[RESOLVE](request)`), for the Hono middleware: a warm request then takes no await at
 * all before the handler, and a new one reads the request once. */
export const RESOLVE = Symbol("edge-tenancy resolve");

/** Throws unless `object` is an object whose keys are all in `known`, naming the first that is
 * not: settings are checked by name, so a misspelled one is an error, never ignored. */
export function checkKeys(object, known, where, kind = "setting") {
  if (typeof object !== "object" || object === null) throw new TypeError(`edge-tenancy: ${where} is an object`);
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) throw new TypeError(`edge-tenancy: ${where}.${key}: unknown ${kind} (known: ${known.join(", ")})`);
  }
}
