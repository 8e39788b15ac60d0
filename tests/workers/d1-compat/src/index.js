// Runs one case of the D1-compatibility spec on one path and answers what it saw, as JSON:
//   /binding/<case>             on env.DB, a D1 binding (miniflare's own D1)
//   /rest/<case>?db=<uuid>      on RestD1Database, sending to the local Cloudflare API
//   /factory/<case>             on the database createD1Factory hands out for a tenant with no
//                               binding: RestD1Database through the package's Rust API client
// Each case answers `{same, own}`: `same` must be equal on every path, `own` is path-specific.
import { createD1Factory } from "edge-tenancy/d1";
import { RestD1Database } from "../../../../js/d1/rest.js";
import drizzleCase from "./drizzle.js";
import kyselyCase from "./kysely.js";
import d1ApiCase from "./d1-api.js";
import { sessionsCase, fromBookmarkCase } from "./sessions.js";
import { valuesCase, severalCase } from "./values.js";

const CASES = {
  drizzle: drizzleCase,
  kysely: kyselyCase,
  "d1-api": d1ApiCase,
  values: valuesCase,
  "batch-several": severalCase,
  sessions: sessionsCase,
  "from-bookmark": fromBookmarkCase,
};

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

// The factory's database for one tenant, provisioned once per isolate through the local API. With
// no binding in `env` it is reached over REST, through the Rust client's raw calls.
let tenantDatabase;
function factoryDatabase(env) {
  tenantDatabase ??= (async () => {
    const factory = createD1Factory({
      registry: env.REGISTRY,
      env: {},
      accountId: env.ACCOUNT_ID,
      apiToken: env.API_TOKEN,
      api: env.CLOUDFLARE_API,
      createAdapters: (database) => ({ database }),
    });
    await factory.provision("compat");
    return factory.database("compat");
  })();
  return tenantDatabase;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, path, name] = url.pathname.split("/");
    const run = CASES[name];
    if (!run || !["binding", "rest", "factory"].includes(path)) return Response.json({ error: `no case ${url.pathname}` }, { status: 404 });
    try {
      const db = path === "binding" ? env.DB : path === "rest" ? restDatabase(env, url.searchParams.get("db")) : await factoryDatabase(env);
      return Response.json(await run(db, url.searchParams));
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error) }, { status: 500 });
    }
  },
};
