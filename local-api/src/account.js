// The account: one Durable Object that answers every API call, so the catalog of databases, the
// rate limit, the fault rules and the call counters see the calls in one order.
import { DurableObject } from "cloudflare:workers";
import { ApiError, fail, htmlError, malformed, notFound, ok } from "./envelope.js";
import { checkRule, takeFault } from "./faults.js";
import { RateWindow } from "./ratelimit.js";
import { splitStatements } from "./split.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const LOCATION_HINTS = ["wnam", "enam", "weur", "eeur", "apac", "oc"];
const JURISDICTIONS = ["eu", "fedramp"];
const DEFAULT_LIMITS = { maxDatabases: 50_000, rateLimit: { limit: 1200, windowSeconds: 300 }, exportPolls: 1 };

/** Which operation a method and API path (after `/client/v4`) name, and its parts. */
export function route(method, path) {
  const m =
    /^\/accounts\/([^/]+)\/(?:d1\/database(?:\/([^/]+)(?:\/(query|raw|export))?)?|workers\/scripts\/([^/]+)\/settings)\/?$/.exec(path);
  if (!m) return { operation: "unknown" };
  const [, account, id, action, script] = m;
  const table = script
    ? { GET: "workers.settings.get", PATCH: "workers.settings.patch" }
    : action
      ? { POST: `d1.${action}` }
      : id
        ? { GET: "d1.get", DELETE: "d1.delete" }
        : { GET: "d1.list", POST: "d1.create" };
  return { operation: table[method] ?? "method_not_allowed", account, id, script };
}

export class LocalAccount extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS databases (seq INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT UNIQUE NOT NULL,
        name TEXT UNIQUE NOT NULL, created_at TEXT NOT NULL, jurisdiction TEXT, location_hint TEXT,
        touched INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS calls (operation TEXT PRIMARY KEY, n INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS settings (script TEXT PRIMARY KEY, json TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS exports (bookmark TEXT PRIMARY KEY, uuid TEXT NOT NULL, polls_left INTEGER NOT NULL,
        options TEXT NOT NULL, token TEXT, dump TEXT, expires INTEGER);
      CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, json TEXT NOT NULL);
    `);
    this.rules = this.load("faults", []);
    this.limits = { ...DEFAULT_LIMITS, ...this.load("limits", {}) };
    this.window = new RateWindow(this.limits.rateLimit.limit, this.limits.rateLimit.windowSeconds);
  }

  load(key, fallback) {
    const row = this.sql.exec("SELECT json FROM state WHERE key = ?", key).toArray()[0];
    return row ? JSON.parse(row.json) : fallback;
  }

  save(key, value) {
    this.sql.exec("INSERT INTO state (key, json) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET json = excluded.json", key, JSON.stringify(value));
  }

  /** The database's Durable Object; marked as used, so reset knows which ones hold data. */
  database(uuid) {
    this.sql.exec("UPDATE databases SET touched = 1 WHERE uuid = ? AND touched = 0", uuid);
    return this.env.DATABASE.get(this.env.DATABASE.idFromName(uuid));
  }

  row(uuid) {
    return this.sql.exec("SELECT * FROM databases WHERE uuid = ?", uuid).toArray()[0];
  }

  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/__local/")) return this.control(request, url);
    return this.api(request, url);
  }

  // ---- The API -----------------------------------------------------------------------------

  async api(request, url) {
    const path = url.pathname.slice("/client/v4".length);
    const { operation, account, id, script } = route(request.method, path);
    this.sql.exec(
      "INSERT INTO calls (operation, n) VALUES (?, 1) ON CONFLICT (operation) DO UPDATE SET n = n + 1",
      operation === "method_not_allowed" ? "unknown" : operation,
    );
    const now = Date.now();
    const retryAfter = this.window.take(now);
    const limitHeaders = this.window.headers(now);
    const answer = await this.answer(request, url, { operation, account, id, script, retryAfter });
    for (const [name, value] of Object.entries(limitHeaders)) answer.headers.set(name, value);
    return answer;
  }

  async answer(request, url, { operation, account, id, script, retryAfter }) {
    if (retryAfter > 0) {
      return fail(429, 971, "Please wait and consider throttling your request speed", { "retry-after": String(retryAfter) });
    }
    const authorization = request.headers.get("authorization");
    if (!authorization) return fail(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers");
    if (authorization !== `Bearer ${this.env.LOCAL_API_TOKEN}`) return fail(403, 10000, "Authentication error");
    if (operation === "unknown") {
      return fail(400, 7003, `Could not route to ${url.pathname}, perhaps your object identifier is invalid?`);
    }
    if (operation === "method_not_allowed") return fail(405, 10405, "Method not allowed");
    if (account !== this.env.LOCAL_ACCOUNT_ID) {
      return fail(403, 7403, "The given account is not valid or is not authorized to access this service");
    }

    const fault = takeFault(this.rules, operation);
    if (fault) this.save("faults", this.rules);
    if (fault?.fault === "status") {
      if (fault.status === 429) {
        return fail(429, 971, "Please wait and consider throttling your request speed", { "retry-after": String(fault.retryAfter) });
      }
      return fault.body === "html" ? htmlError(fault.status) : fail(fault.status, 7500, "Internal error");
    }
    if (fault?.fault === "successFalse") return fail(200, 7500, "Internal error");

    let answer;
    try {
      answer = await this.work(operation, request, url, { id, script });
    } catch (error) {
      if (error instanceof ApiError) answer = error.toResponse();
      else throw error;
    }
    // "drop" and "slow" act after the work is done; the entry worker carries them out.
    if (fault?.fault === "drop") answer.headers.set("x-local-after", "drop");
    if (fault?.fault === "slow") answer.headers.set("x-local-after", `slow:${fault.delayMs}`);
    return answer;
  }

  async body(request) {
    try {
      return await request.json();
    } catch {
      throw malformed();
    }
  }

  async work(operation, request, url, { id, script }) {
    switch (operation) {
      case "d1.create":
        return ok(await this.create(await this.body(request)));
      case "d1.list":
        return this.list(url.searchParams);
      case "d1.get":
        return ok(await this.describe(this.existing(id)));
      case "d1.delete": {
        const row = this.existing(id);
        await this.database(row.uuid).destroy();
        this.sql.exec("DELETE FROM databases WHERE uuid = ?", row.uuid);
        return ok(null);
      }
      case "d1.query":
      case "d1.raw":
        return ok(await this.query(this.existing(id), await this.body(request), operation === "d1.raw"));
      case "d1.export":
        return ok(await this.export(this.existing(id), await this.body(request), url));
      case "workers.settings.get":
        return ok(this.settings(script));
      case "workers.settings.patch":
        return ok(await this.patchSettings(script, request));
    }
    throw new Error(`no handler for ${operation}`);
  }

  existing(id) {
    const row = this.row(id);
    if (!row) throw notFound(id);
    return row;
  }

  async describe(row) {
    const info = await this.database(row.uuid).info();
    const db = { uuid: row.uuid, name: row.name, created_at: row.created_at, version: "production", ...info };
    if (row.jurisdiction) db.jurisdiction = row.jurisdiction;
    if (row.location_hint) db.primary_location_hint = row.location_hint;
    return db;
  }

  insert(name, jurisdiction = null, locationHint = null) {
    const uuid = crypto.randomUUID();
    this.sql.exec(
      "INSERT INTO databases (uuid, name, created_at, jurisdiction, location_hint) VALUES (?, ?, ?, ?, ?)",
      uuid,
      name,
      new Date().toISOString(),
      jurisdiction,
      locationHint,
    );
    return this.row(uuid);
  }

  async create(body) {
    const { name, primary_location_hint: hint = null, jurisdiction = null } = body ?? {};
    if (typeof name !== "string" || !NAME.test(name)) {
      throw malformed("Invalid database name: use 1 to 64 letters, digits, '_' or '-', starting with a letter or digit");
    }
    if (hint !== null && !LOCATION_HINTS.includes(hint)) throw malformed(`Invalid primary_location_hint: one of ${LOCATION_HINTS.join(", ")}`);
    if (jurisdiction !== null && !JURISDICTIONS.includes(jurisdiction)) throw malformed(`Invalid jurisdiction: one of ${JURISDICTIONS.join(", ")}`);
    if (this.sql.exec("SELECT 1 FROM databases WHERE name = ?", name).toArray().length > 0) {
      throw new ApiError(400, 7502, "A database with that name already exists");
    }
    const count = this.sql.exec("SELECT count(*) AS n FROM databases").one().n;
    if (count >= this.limits.maxDatabases) {
      throw new ApiError(400, 7406, "You have reached the maximum number of D1 databases for your account");
    }
    return this.describe(this.insert(name, jurisdiction, hint));
  }

  list(params) {
    const page = params.has("page") ? Number(params.get("page")) : 1;
    const perPage = params.has("per_page") ? Number(params.get("per_page")) : 1000;
    if (!Number.isInteger(page) || page < 1) throw malformed("page must be an integer of at least 1");
    if (!Number.isInteger(perPage) || perPage < 10 || perPage > 10000) throw malformed("per_page must be an integer from 10 to 10000");
    const name = params.get("name") ?? "";
    const pattern = `%${name.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const total = this.sql.exec("SELECT count(*) AS n FROM databases WHERE name LIKE ? ESCAPE '\\'", pattern).one().n;
    const rows = this.sql
      .exec(
        "SELECT uuid, name, created_at, jurisdiction FROM databases WHERE name LIKE ? ESCAPE '\\' ORDER BY seq, uuid LIMIT ? OFFSET ?",
        pattern,
        perPage,
        (page - 1) * perPage,
      )
      .toArray()
      .map(({ jurisdiction, ...db }) => ({ ...db, version: "production", ...(jurisdiction ? { jurisdiction } : {}) }));
    return ok(rows, { page, per_page: perPage, count: rows.length, total_count: total });
  }

  async query(row, body, raw) {
    let statements;
    if (Array.isArray(body?.batch)) {
      statements = body.batch.map((s) => this.batchEntry(s));
    } else {
      statements = this.statements(body);
    }
    if (statements.length === 0) throw malformed("No SQL statements to run");
    try {
      return await this.database(row.uuid).run(statements, raw);
    } catch (error) {
      // Errors cross the RPC boundary as plain errors; their message is D1's.
      throw new ApiError(400, 7500, String(error?.message ?? error).replace(/^(SqlFailure|Error): /, ""));
    }
  }

  /** One `{sql, params?}` of a `batch`: a single statement. */
  batchEntry(s) {
    if (typeof s?.sql !== "string") throw malformed("Each statement needs sql");
    const params = s.params ?? [];
    if (!Array.isArray(params)) throw malformed("params must be an array");
    if (splitStatements(s.sql).length > 1) throw malformed("A batch entry holds one statement");
    return { sql: s.sql, params };
  }

  statements(body) {
    if (typeof body?.sql !== "string") throw malformed("Expected { sql, params? } or { batch: [...] }");
    const params = body.params ?? [];
    if (!Array.isArray(params)) throw malformed("params must be an array");
    const parts = splitStatements(body.sql);
    if (parts.length > 1 && params.length > 0) throw malformed("params can only be used with a single statement");
    return parts.map((sql) => ({ sql, params: parts.length > 1 ? [] : params }));
  }

  async export(row, body, url) {
    if (body?.output_format !== "polling") throw malformed('output_format must be "polling"');
    const options = body.dump_options ?? {};
    if (body.current_bookmark === undefined) {
      const bookmark = `${Date.now().toString(16).padStart(16, "0")}-${crypto.randomUUID().slice(0, 8)}`;
      this.sql.exec(
        "INSERT INTO exports (bookmark, uuid, polls_left, options) VALUES (?, ?, ?, ?)",
        bookmark,
        row.uuid,
        this.limits.exportPolls,
        JSON.stringify(options),
      );
      return { type: "export", at_bookmark: bookmark, status: "active", messages: ["Generating a SQL dump of the database"] };
    }
    const job = this.sql.exec("SELECT * FROM exports WHERE bookmark = ? AND uuid = ?", String(body.current_bookmark), row.uuid).toArray()[0];
    if (!job) throw malformed("Unknown export bookmark");
    const pollsLeft = Math.max(0, job.polls_left - 1);
    if (pollsLeft > 0) {
      this.sql.exec("UPDATE exports SET polls_left = ? WHERE bookmark = ?", pollsLeft, job.bookmark);
      return { type: "export", at_bookmark: job.bookmark, status: "active", messages: ["Still generating"] };
    }
    let token = job.token;
    if (!token) {
      token = crypto.randomUUID().replaceAll("-", "");
      const dump = await this.database(row.uuid).dump(JSON.parse(job.options));
      this.sql.exec(
        "UPDATE exports SET polls_left = 0, token = ?, dump = ?, expires = ? WHERE bookmark = ?",
        token,
        dump,
        Date.now() + 3_600_000,
        job.bookmark,
      );
    }
    return {
      type: "export",
      at_bookmark: job.bookmark,
      status: "complete",
      messages: ["Export complete"],
      result: { filename: `${row.uuid}-${job.bookmark}.sql`, signed_url: `${url.origin}/__local/exports/${token}.sql` },
    };
  }

  knownScript(script) {
    const known = (this.env.LOCAL_SCRIPTS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const stored = this.sql.exec("SELECT 1 FROM settings WHERE script = ?", script).toArray().length > 0;
    if (!known.includes(script) && !stored) throw new ApiError(404, 10007, "This Worker does not exist on your account.");
  }

  settings(script) {
    this.knownScript(script);
    const row = this.sql.exec("SELECT json FROM settings WHERE script = ?", script).toArray()[0];
    return row
      ? JSON.parse(row.json)
      : { bindings: [], compatibility_date: "2026-07-01", compatibility_flags: [], usage_model: "standard" };
  }

  async patchSettings(script, request) {
    const current = this.settings(script);
    let patch;
    try {
      if (!(request.headers.get("content-type") ?? "").startsWith("multipart/form-data")) throw new Error();
      const part = (await request.formData()).get("settings");
      patch = JSON.parse(typeof part === "string" ? part : await part.text());
    } catch {
      throw new ApiError(400, 10026, "Could not parse request body");
    }
    const next = { ...current, ...patch };
    if (patch.bindings !== undefined) {
      if (!Array.isArray(patch.bindings)) throw new ApiError(400, 10026, "Could not parse request body");
      next.bindings = patch.bindings.map((b) => {
        const broken = new ApiError(400, 10021, `binding ${b?.name} of type ${b?.type} failed to generate`);
        if (typeof b?.name !== "string" || typeof b?.type !== "string") throw broken;
        if (b.type === "inherit") {
          const kept = current.bindings.find((old) => old.name === b.name);
          if (!kept) throw broken;
          return kept;
        }
        if (b.type === "d1" && !this.row(b.id)) throw broken;
        return b;
      });
    }
    this.sql.exec(
      "INSERT INTO settings (script, json) VALUES (?, ?) ON CONFLICT (script) DO UPDATE SET json = excluded.json",
      script,
      JSON.stringify(next),
    );
    return next;
  }

  // ---- Control endpoints, for tests and development -----------------------------------------

  async control(request, url) {
    const what = `${request.method} ${url.pathname}`;
    const body = async () => {
      try {
        return await request.json();
      } catch {
        throw new Error("expected a JSON body");
      }
    };
    const reply = (value) => Response.json(value);
    try {
      const download = /^\/__local\/exports\/([0-9a-f]+)\.sql$/.exec(url.pathname);
      if (request.method === "GET" && download) {
        const row = this.sql.exec("SELECT dump, expires FROM exports WHERE token = ?", download[1]).toArray()[0];
        if (!row || row.expires < Date.now()) return new Response("Not found", { status: 404 });
        return new Response(row.dump, { headers: { "content-type": "application/sql" } });
      }
      switch (what) {
        case "POST /__local/faults": {
          const { rules } = await body();
          if (!Array.isArray(rules)) throw new Error("expected { rules: [...] }");
          this.rules.push(...rules.map(checkRule));
          this.save("faults", this.rules);
          return reply({ rules: this.rules });
        }
        case "DELETE /__local/faults":
          this.rules = [];
          this.save("faults", this.rules);
          return reply({ rules: [] });
        case "POST /__local/limits": {
          const { maxDatabases, rateLimit, exportPolls } = await body();
          if (maxDatabases !== undefined) this.limits.maxDatabases = maxDatabases;
          if (exportPolls !== undefined) this.limits.exportPolls = exportPolls;
          if (rateLimit !== undefined) {
            this.limits.rateLimit = { ...this.limits.rateLimit, ...rateLimit };
            this.window.configure(this.limits.rateLimit.limit, this.limits.rateLimit.windowSeconds);
          }
          this.save("limits", this.limits);
          return reply(this.limits);
        }
        case "GET /__local/calls": {
          const calls = Object.fromEntries(this.sql.exec("SELECT operation, n FROM calls ORDER BY operation").toArray().map((r) => [r.operation, r.n]));
          return reply({ total: Object.values(calls).reduce((a, b) => a + b, 0), calls });
        }
        case "DELETE /__local/calls":
          this.sql.exec("DELETE FROM calls");
          return reply({ total: 0, calls: {} });
        case "POST /__local/seed": {
          const { prefix, count } = await body();
          if (typeof prefix !== "string" || !Number.isInteger(count) || count < 0) throw new Error("expected { prefix, count }");
          this.ctx.storage.transactionSync(() => {
            for (let i = 0; i < count; i++) this.insert(`${prefix}-${i}`);
          });
          return reply({ created: count });
        }
        case "POST /__local/reset": {
          // Seeded databases that were never used have no Durable Object to clear.
          for (const { uuid } of this.sql.exec("SELECT uuid FROM databases WHERE touched = 1").toArray()) {
            await this.database(uuid).destroy();
          }
          this.sql.exec("DELETE FROM databases; DELETE FROM calls; DELETE FROM settings; DELETE FROM exports; DELETE FROM state;");
          this.rules = [];
          this.limits = structuredClone(DEFAULT_LIMITS);
          this.window.configure(this.limits.rateLimit.limit, this.limits.rateLimit.windowSeconds);
          return reply({ reset: true });
        }
      }
      return Response.json({ error: `no control endpoint ${what}` }, { status: 404 });
    } catch (error) {
      return Response.json({ error: String(error?.message ?? error) }, { status: 400 });
    }
  }
}
