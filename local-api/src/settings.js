// A Worker's settings: what a PATCH of `settings` (multipart) or `script-settings` (JSON) may
// carry, checked against the published schema, and how new bindings replace the old.
import { ApiError } from "./envelope.js";

/** Fields of the multipart `settings` part (the schema's script-and-version settings). */
export const SETTINGS_FIELDS = [
  "annotations",
  "bindings",
  "cache_options",
  "compatibility_date",
  "compatibility_flags",
  "exports",
  "limits",
  "logpush",
  "migrations",
  "observability",
  "placement",
  "tags",
  "tail_consumers",
  "usage_model",
];
/** Fields of the JSON `script-settings` body. */
export const SCRIPT_SETTINGS_FIELDS = ["logpush", "observability", "tags", "tail_consumers"];
const USAGE_MODELS = ["standard", "bundled", "unbound"];

/** The settings a Worker starts with. */
export const DEFAULT_SETTINGS = {
  bindings: [],
  compatibility_date: "2026-07-01",
  compatibility_flags: [],
  logpush: false,
  tags: [],
  tail_consumers: [],
  usage_model: "standard",
};

const invalid = (message) => new ApiError(400, 10021, message);

/** Checks a settings patch's own fields (not its bindings); throws a 10021 naming what is wrong. */
export function checkPatch(patch, fields) {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) throw new ApiError(400, 10026, "Could not parse request body");
  const unknown = Object.keys(patch).find((key) => !fields.includes(key));
  if (unknown) throw invalid(`Unknown setting ${unknown}`);
  if ("usage_model" in patch && !USAGE_MODELS.includes(patch.usage_model)) {
    throw invalid(`usage_model must be one of ${USAGE_MODELS.join(", ")}`);
  }
  if ("logpush" in patch && typeof patch.logpush !== "boolean") throw invalid("logpush must be a boolean");
  for (const list of ["compatibility_flags", "tags"]) {
    if (list in patch && patch[list] !== null && !(Array.isArray(patch[list]) && patch[list].every((v) => typeof v === "string"))) {
      throw invalid(`${list} must be an array of strings`);
    }
  }
  if ("compatibility_date" in patch && !/^\d{4}-\d{2}-\d{2}$/.test(patch.compatibility_date)) {
    throw invalid("compatibility_date must be a date such as 2026-07-01");
  }
  if ("bindings" in patch && !Array.isArray(patch.bindings)) throw invalid("bindings must be an array");
}

/**
 * The bindings `wanted` describes, given the Worker's `current` ones: `inherit` keeps (or, with
 * `old_name`, renames) a current binding; a `d1` binding must name an existing database and is
 * stored with `database_id` (the deprecated `id` is taken as the same). `databaseExists(id)`
 * says whether a database exists.
 */
export function nextBindings(wanted, current, databaseExists) {
  const names = new Set();
  return wanted.map((b) => {
    const failed = (why) => new ApiError(400, 10021, `binding ${b?.name} of type ${b?.type} failed to generate: ${why}`);
    if (typeof b !== "object" || b === null || typeof b.name !== "string" || typeof b.type !== "string") {
      throw failed("a binding is an object with a type and a name");
    }
    if (names.has(b.name)) throw failed("the name is used twice");
    names.add(b.name);
    if (b.type === "inherit") {
      if (b.version_id !== undefined && b.version_id !== "latest") throw failed("only the latest version can be inherited from");
      const from = b.old_name ?? b.name;
      const kept = current.find((old) => old.name === from);
      if (!kept) throw failed(`the Worker has no binding ${from}`);
      return { ...kept, name: b.name };
    }
    if (b.type === "d1") {
      const { id, database_id = id, ...rest } = b;
      if (id !== undefined && id !== database_id) throw failed("id and database_id differ");
      if (typeof database_id !== "string" || !databaseExists(database_id)) throw failed("no such database");
      return { ...rest, database_id };
    }
    return b;
  });
}
