// Names shared inside the package and not exported from it.

/** A tenancy's resolve that answers at once when it replays a kept answer, else with a Promise
 * (`tenancy[RESOLVE](request)`), for the Hono middleware: a warm request then takes no await at
 * all before the handler, and a new one reads the request once. */
export const RESOLVE = Symbol("edge-tenancy resolve");
