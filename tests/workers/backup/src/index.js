// createD1Factory with `backupBucket`: provision, write, read, export on demand, deprovision
// (backed up) and restore a tenant over plain routes; `/unbound` makes a factory whose bucket is
// not bound.
import { createD1Factory } from "edge-tenancy/d1";

const settings = (env, backupBucket) => ({
  registry: env.CONTROL_PLANE,
  env,
  accountId: env.ACCOUNT_ID,
  apiToken: env.API_TOKEN,
  api: env.CLOUDFLARE_API,
  backupBucket,
  createAdapters: (db) => db,
  afterProvision: ({ database }) => database.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"),
});

let factory;
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    const [, action, tenant] = pathname.split("/");
    try {
      if (action === "unbound") {
        createD1Factory(settings(env, env.NOT_BOUND));
        return new Response("made", { status: 500 });
      }
      factory ??= createD1Factory(settings(env, env.BACKUPS));
      switch (action) {
        case "provision":
          return Response.json(await factory.provision(tenant));
        case "note": {
          const db = await factory.database(tenant);
          await db.prepare("INSERT INTO notes (body) VALUES (?)").bind(await request.text()).run();
          return new Response(null, { status: 204 });
        }
        case "notes": {
          const db = await factory.database(tenant);
          return Response.json((await db.prepare("SELECT body FROM notes ORDER BY id").all()).results.map((r) => r.body));
        }
        case "export":
          return await factory.exportDatabase(tenant);
        case "deprovision":
          return Response.json({ backup: await factory.deprovision(tenant) });
        case "restore":
          return Response.json(await factory.restore(tenant, await request.text()));
      }
      return new Response("no such route", { status: 404 });
    } catch (error) {
      return new Response(String(error?.message ?? error), { status: error?.status ?? 500 });
    }
  },
};
