// Which operation a method and API path (after `/client/v4`) name. Operation names are what the
// call counters and fault rules use.

const D1 = "d1/database";

/** Paths under `/accounts/{account_id}/`, each with its operations by method. */
const TABLE = [
  [/^d1\/database$/, { GET: "d1.list", POST: "d1.create" }],
  [/^d1\/database\/([^/]+)$/, { GET: "d1.get", PUT: "d1.update", PATCH: "d1.edit", DELETE: "d1.delete" }],
  [/^d1\/database\/([^/]+)\/query$/, { POST: "d1.query" }],
  [/^d1\/database\/([^/]+)\/raw$/, { POST: "d1.raw" }],
  [/^d1\/database\/([^/]+)\/export$/, { POST: "d1.export" }],
  [/^d1\/database\/([^/]+)\/import$/, { POST: "d1.import" }],
  [/^d1\/database\/([^/]+)\/time_travel\/bookmark$/, { GET: "d1.time_travel.bookmark" }],
  [/^d1\/database\/([^/]+)\/time_travel\/restore$/, { POST: "d1.time_travel.restore" }],
  [/^workers\/scripts\/([^/]+)\/settings$/, { GET: "workers.settings.get", PATCH: "workers.settings.patch" }],
  [/^workers\/scripts\/([^/]+)\/script-settings$/, { GET: "workers.script_settings.get", PATCH: "workers.script_settings.patch" }],
];

/** Every operation the local API serves. */
export const OPERATIONS = TABLE.flatMap(([, methods]) => Object.values(methods));

/**
 * `{operation, account, id?, script?}` for a path; `operation` is "unknown" for a path the API
 * does not serve and "method_not_allowed" for a served path with another method.
 */
export function route(method, path) {
  const m = /^\/accounts\/([^/]+)\/(.+?)\/?$/.exec(path);
  if (!m) return { operation: "unknown" };
  const [, account, rest] = m;
  for (const [pattern, methods] of TABLE) {
    const parts = pattern.exec(rest);
    if (!parts) continue;
    const operation = methods[method] ?? "method_not_allowed";
    let name;
    try {
      name = decodeURIComponent(parts[1] ?? "");
    } catch {
      return { operation: "unknown" };
    }
    return rest.startsWith(D1) ? { operation, account, id: name } : { operation, account, script: name };
  }
  return { operation: "unknown" };
}
