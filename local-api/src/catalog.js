// The account's databases as the API describes them, and the bodies that create or change one,
// checked as the published schema and the SDK's types have them.
import { malformed } from "./envelope.js";

// Lower case only: the current schema's pattern (upper case is refused by the real API too).
export const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LOCATION_HINTS = ["wnam", "enam", "weur", "eeur", "apac", "oc"];
const JURISDICTIONS = ["eu", "fedramp", "us"];
const REPLICATION_MODES = ["auto", "disabled"];
/** Where the local API says it runs a database without a location hint. */
const DEFAULT_REGION = "WNAM";
/** What `fields` may ask the get endpoint for. */
const FIELDS = ["uuid", "name", "created_at", "version", "jurisdiction", "num_tables", "file_size", "running_in_region", "read_replication"];

function onlyKnown(body, known) {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw malformed("The body is a JSON object");
  const unknown = Object.keys(body).find((key) => !known.includes(key));
  if (unknown) throw malformed(`Unknown field ${unknown}`);
}

function replication(value) {
  if (typeof value !== "object" || value === null || !REPLICATION_MODES.includes(value.mode) || Object.keys(value).length !== 1) {
    throw malformed(`read_replication is { mode: ${REPLICATION_MODES.join(" | ")} }`);
  }
  return value.mode;
}

/** `{name, hint, jurisdiction, replication}` from a create body; throws a 7400. */
export function createRequest(body) {
  onlyKnown(body, ["name", "primary_location_hint", "jurisdiction", "read_replication"]);
  const { name, primary_location_hint: hint = null, jurisdiction = null, read_replication } = body;
  if (typeof name !== "string" || !NAME.test(name)) {
    throw malformed("Invalid database name: use 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter or digit");
  }
  if (hint !== null && !LOCATION_HINTS.includes(hint)) throw malformed(`Invalid primary_location_hint: one of ${LOCATION_HINTS.join(", ")}`);
  if (jurisdiction !== null && !JURISDICTIONS.includes(jurisdiction)) throw malformed(`Invalid jurisdiction: one of ${JURISDICTIONS.join(", ")}`);
  return { name, hint, jurisdiction, replication: read_replication === undefined ? "disabled" : replication(read_replication) };
}

/** The new read-replication mode from an update (PUT: required) or edit (PATCH: optional) body, or null. */
export function updateRequest(body, required) {
  onlyKnown(body, ["read_replication"]);
  if (body.read_replication === undefined) {
    if (required) throw malformed("read_replication is required");
    return null;
  }
  return replication(body.read_replication);
}

/** The region the local API reports for a database (`served_by_region`, `running_in_region`). */
export const region = (row) => row.location_hint?.toUpperCase() ?? DEFAULT_REGION;

/** A database as list answers show it. */
export function listed(row) {
  return { uuid: row.uuid, name: row.name, created_at: row.created_at, version: "production", jurisdiction: row.jurisdiction ?? null };
}

/** A database as get, create and update show it, given its `{num_tables, file_size}`. */
export function described(row, info) {
  return {
    ...listed(row),
    ...info,
    running_in_region: region(row),
    read_replication: { mode: row.read_replication },
  };
}

/** The fields a get asks for (`fields=a,b`, repeated or not); all when none. Throws a 7400. */
export function fieldsOf(params) {
  const asked = params.getAll("fields").flatMap((v) => v.split(",")).map((f) => f.trim()).filter(Boolean);
  const unknown = asked.find((f) => !FIELDS.includes(f));
  if (unknown) throw malformed(`Unknown field ${unknown}: one of ${FIELDS.join(", ")}`);
  return asked.length > 0 ? asked : FIELDS;
}
