// Names shared inside the package and not exported from it.

/** A tenancy's resolve that answers at once when it replays a kept answer, else with a Promise
 * (`tenancy[RESOLVE](request)`), for the Hono middleware: a warm request then takes no await at
 * all before the handler, and a new one reads the request once. */
export const RESOLVE = Symbol("edge-tenancy resolve");

const fold = (name) => name.replace(/[_-]/g, "").toLowerCase();

/** Levenshtein distance over characters (code points). */
function editDistance(a, b) {
  const left = [...a];
  const right = [...b];
  let row = right.map((_, j) => j + 1);
  row.unshift(0);
  for (let i = 0; i < left.length; i++) {
    let diagonal = row[0];
    row[0] = i + 1;
    for (let j = 0; j < right.length; j++) {
      const substitution = diagonal + (left[i] === right[j] ? 0 : 1);
      diagonal = row[j + 1];
      row[j + 1] = Math.min(substitution, row[j] + 1, row[j + 1] + 1);
    }
  }
  return row[right.length];
}

/**
 * The known name `name` most likely stands for, or undefined: a different case or separator
 * (`tenant_claim`), a prefix (`iss`), or a small typo (`afterProvison`). The same rules as Rust's
 * (`closest` in src/config/strict.rs), so that a setting read in JS and one read in Rust are
 * suggested alike.
 */
export function closest(name, known) {
  const folded = fold(name);
  let best;
  for (const candidate of known) {
    const other = fold(candidate);
    let distance;
    if (other === folded) distance = 0;
    else if ([...folded].length >= 3 && (other.startsWith(folded) || folded.startsWith(other))) distance = 1;
    else distance = editDistance(folded, other);
    if (distance > Math.max(2, Math.floor([...candidate].length / 4))) continue;
    if (best === undefined || distance < best.distance) best = { distance, candidate };
  }
  return best?.candidate;
}

/** What follows a name that is not known, in the words Rust uses for its own settings:
 * `unknown setting; did you mean databasePrefix? (known: …)`, every known name listed. */
export function unknownName(name, known, kind = "setting") {
  if (known.length === 0) return `unknown ${kind}; none is allowed here`;
  const meant = closest(name, known);
  return `unknown ${kind}${meant === undefined ? "" : `; did you mean ${meant}?`} (known: ${known.join(", ")})`;
}

/**
 * Throws unless `object` is an object whose keys are all in `known`, naming the first that is
 * not, the known name it most likely stands for, and every known one: settings are checked by
 * name, functions included, so a misspelled one is an error, never ignored. `where` is the
 * function they were given to (`setupMultiTenancy`), `path` where they sit in its argument
 * (`databaseIsolation`; none for the argument itself).
 */
export function checkKeys(object, known, where, path = "", kind = "setting") {
  if (typeof object !== "object" || object === null) throw new TypeError(`edge-tenancy: ${where}: ${path || "its argument"} is an object`);
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) throw new TypeError(`edge-tenancy: ${where}: ${path ? `${path}.` : ""}${key}: ${unknownName(key, known, kind)}`);
  }
}
