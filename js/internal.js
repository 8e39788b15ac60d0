// Names shared inside the package and not exported from it.

/** A tenancy's synchronous replay of a kept answer (`tenancy[REPLAYED](request)`), for the Hono
 * middleware: a warm request then takes no await at all before the handler. */
export const REPLAYED = Symbol("edge-tenancy replayed");
