// Runs one case of the D1-compatibility spec on one path and answers what it saw, as JSON:
//   /binding/<case>             on env.DB, a D1 binding (miniflare's own D1)
//   /rest/<case>?db=<uuid>      on RestD1Database, sending to the local Cloudflare API
// Each case answers `{same, own}`: `same` must be equal on both paths, `own` is path-specific.
import { RestD1Database } from "../../../../js/d1/rest.js";
import drizzleCase from "./drizzle.js";
import kyselyCase from "./kysely.js";
import d1ApiCase from "./d1-api.js";
import { sessionsCase, fromBookmarkCase } from "./sessions.js";

const CASES = { drizzle: drizzleCase, kysely: kyselyCase, "d1-api": d1ApiCase, sessions: sessionsCase, "from-bookmark": fromBookmarkCase };

/** RestD1Database over the local API's raw endpoint, reached through the CLOUDFLARE_API service binding. */
function restDatabase(env, id) {
  return new RestD1Database(async (body) => {
    const res = await env.CLOUDFLARE_API.fetch(`https://api.cloudflare.com/client/v4/accounts/${env.ACCOUNT_ID}/d1/database/${id}/raw`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.API_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const envelope = await res.json();
    if (!envelope.success) throw new Error(envelope.errors.map((e) => e.message).join("; "));
    return envelope.result;
  });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, path, name] = url.pathname.split("/");
    const run = CASES[name];
    if (!run || !["binding", "rest"].includes(path)) return Response.json({ error: `no case ${url.pathname}` }, { status: 404 });
    const db = path === "binding" ? env.DB : restDatabase(env, url.searchParams.get("db"));
    try {
      return Response.json(await run(db, url.searchParams));
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error) }, { status: 500 });
    }
  },
};
