// The account: one Durable Object that answers every API call, so the catalog of databases, the
// rate limit, the fault rules and the call counters see the calls in one order.
import { DurableObject } from "cloudflare:workers";
import { ApiError, fail, htmlError, malformed, notFound, ok } from "./envelope.js";
import { checkRule, takeFault } from "./faults.js";
import { RateWindow } from "./ratelimit.js";
import { route } from "./routes.js";
import { statementsOf } from "./query.js";
import { UUID, createRequest, described, fieldsOf, listed, region, updateRequest } from "./catalog.js";
import { DEFAULT_SETTINGS, SCRIPT_SETTINGS_FIELDS, SETTINGS_FIELDS, checkPatch, nextBindings } from "./settings.js";

const DEFAULT_LIMITS = { maxDatabases: 50_000, rateLimit: { limit: 1200, windowSeconds: 300 }, exportPolls: 1 };
const HOUR_MS = 3_600_000;
const UPLOAD_PART = 1_000_000;
/** How far back time travel reaches (D1's paid plans: 30 days). */
const TIME_TRAVEL_MS = 30 * 24 * HOUR_MS;

const pick = (object, keys) => Object.fromEntries(keys.filter((k) => k in object).map((k) => [k, object[k]]));

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
        token TEXT NOT NULL, dump TEXT NOT NULL, expires INTEGER);
      CREATE TABLE IF NOT EXISTS export_parts (token TEXT NOT NULL, part INTEGER NOT NULL, text TEXT NOT NULL,
        PRIMARY KEY (token, part));
      CREATE TABLE IF NOT EXISTS uploads (token TEXT PRIMARY KEY, uuid TEXT NOT NULL, filename TEXT NOT NULL,
        etag TEXT NOT NULL, parts INTEGER, expires INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS upload_parts (token TEXT NOT NULL, part INTEGER NOT NULL, bytes BLOB NOT NULL,
        PRIMARY KEY (token, part));
      CREATE TABLE IF NOT EXISTS imports (bookmark TEXT PRIMARY KEY, uuid TEXT NOT NULL, answer TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, json TEXT NOT NULL);
    `);
    // State persisted by an older local API (wrangler dev keeps it) lacks the newer columns.
    const columns = this.sql.exec("SELECT name FROM pragma_table_info('databases')").toArray().map((c) => c.name);
    if (!columns.includes("read_replication")) {
      this.sql.exec("ALTER TABLE databases ADD COLUMN read_replication TEXT NOT NULL DEFAULT 'disabled'");
    }
    const uploadColumns = this.sql.exec("SELECT name FROM pragma_table_info('uploads')").toArray().map((c) => c.name);
    if (!uploadColumns.includes("parts")) this.sql.exec("ALTER TABLE uploads ADD COLUMN parts INTEGER");
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
    // The calls the rate limit refused, apart from the operations' counts (which include them).
    if (retryAfter > 0) this.rateLimited = (this.rateLimited ?? 0) + 1;
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

    const runsTask = operation !== "d1.import" || (await request.clone().json().catch(() => null))?.action === "ingest";
    const fault = takeFault(this.rules, operation, runsTask);
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
      answer = await this.work(operation, request, url, { id, script, taskError: fault?.fault === "taskError" ? fault.message : null });
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

  async work(operation, request, url, { id, script, taskError }) {
    switch (operation) {
      case "d1.create":
        return ok(await this.create(createRequest(await this.body(request))));
      case "d1.list":
        return this.list(url.searchParams);
      case "d1.get": {
        const fields = fieldsOf(url.searchParams);
        return ok(pick(await this.describe(this.byIdOrName(id)), fields));
      }
      case "d1.update":
      case "d1.edit":
        return ok(await this.update(this.existing(id), updateRequest(await this.body(request), operation === "d1.update")));
      case "d1.delete": {
        const row = this.existing(id);
        await this.database(row.uuid).destroy();
        this.sql.exec("DELETE FROM databases WHERE uuid = ?", row.uuid);
        return ok(null);
      }
      case "d1.query":
      case "d1.raw":
        return ok(await this.query(this.existing(id), statementsOf(await this.body(request)), operation === "d1.raw"));
      case "d1.export":
        return this.export(this.existing(id), await this.body(request), url, taskError);
      case "d1.import":
        return ok(await this.import(this.existing(id), await this.body(request), url, taskError));
      case "d1.time_travel.bookmark":
        return ok(await this.bookmark(this.existing(id), url.searchParams));
      case "d1.time_travel.restore":
        return ok(await this.restore(this.existing(id), url.searchParams));
      case "workers.settings.get":
        return ok(this.settings(script));
      case "workers.settings.patch":
        return ok(await this.patchSettings(script, request));
      case "workers.script_settings.get":
        return ok(pick(this.settings(script), SCRIPT_SETTINGS_FIELDS));
      case "workers.script_settings.patch": {
        const patch = await this.body(request);
        checkPatch(patch, SCRIPT_SETTINGS_FIELDS);
        return ok(pick(this.storeSettings(script, { ...this.settings(script), ...patch }), SCRIPT_SETTINGS_FIELDS));
      }
    }
    throw new Error(`no handler for ${operation}`);
  }

  /** The database with this id; only ids name databases, except on get. */
  existing(id) {
    const row = UUID.test(id) ? this.row(id) : undefined;
    if (!row) throw notFound(id);
    return row;
  }

  /** The database with this id, or with this name (get takes either). */
  byIdOrName(id) {
    if (UUID.test(id)) return this.existing(id);
    const row = this.sql.exec("SELECT * FROM databases WHERE name = ?", id).toArray()[0];
    if (!row) throw notFound(id);
    return row;
  }

  async describe(row) {
    return described(row, await this.database(row.uuid).info());
  }

  insert(name, { jurisdiction = null, hint = null, replication = "disabled" } = {}) {
    const uuid = crypto.randomUUID();
    this.sql.exec(
      "INSERT INTO databases (uuid, name, created_at, jurisdiction, location_hint, read_replication) VALUES (?, ?, ?, ?, ?, ?)",
      uuid,
      name,
      new Date().toISOString(),
      jurisdiction,
      hint,
      replication,
    );
    return this.row(uuid);
  }

  async create(request) {
    if (this.sql.exec("SELECT 1 FROM databases WHERE name = ?", request.name).toArray().length > 0) {
      throw new ApiError(400, 7502, "A database with that name already exists");
    }
    const count = this.sql.exec("SELECT count(*) AS n FROM databases").one().n;
    if (count >= this.limits.maxDatabases) {
      throw new ApiError(400, 7406, "You have reached the maximum number of D1 databases for your account");
    }
    return this.describe(this.insert(request.name, request));
  }

  async update(row, replication) {
    if (replication !== null) this.sql.exec("UPDATE databases SET read_replication = ? WHERE uuid = ?", replication, row.uuid);
    return this.describe(this.row(row.uuid));
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
      .exec("SELECT * FROM databases WHERE name LIKE ? ESCAPE '\\' ORDER BY seq, uuid LIMIT ? OFFSET ?", pattern, perPage, (page - 1) * perPage)
      .toArray()
      .map(listed);
    return ok(rows, { page, per_page: perPage, count: rows.length, total_count: total });
  }

  async query(row, statements, raw) {
    const started = performance.now();
    let results;
    try {
      results = await this.database(row.uuid).run(statements, raw);
    } catch (error) {
      // Errors cross the RPC boundary as plain errors; their message is D1's.
      throw new ApiError(400, 7500, String(error?.message ?? error).replace(/^(SqlFailure|Error): /, ""));
    }
    // The runtime's clock only moves between I/O, so the call into the database is what can be
    // timed; it is shared out between the statements.
    const duration = (performance.now() - started) / results.length;
    for (const result of results) {
      Object.assign(result.meta, { served_by_region: region(row), duration, timings: { sql_duration_ms: duration } });
    }
    return results;
  }

  // ---- Export and import: tasks polled to completion ----------------------------------------

  async export(row, body, url, taskError) {
    if (body?.output_format !== "polling") throw malformed('output_format must be "polling"');
    const task = (bookmark, fields) => ({ type: "export", at_bookmark: bookmark, success: true, ...fields });
    const running = (bookmark, message) => ok(task(bookmark, { status: "active", messages: [message] }), undefined, 202);
    let job;
    if (body.current_bookmark === undefined) {
      this.forgetExpired();
      const db = this.database(row.uuid);
      job = { bookmark: await db.bookmark() };
      if (!taskError) {
        // The dump is taken now, so it is the state at `at_bookmark` whatever happens next. It is
        // kept in parts (a row holds at most 2 MB), `dump` holding only its length in bytes.
        const token = crypto.randomUUID().replaceAll("-", "");
        const parts = await db.keepExport(token, body.dump_options ?? {});
        let bytes = 0;
        const encoder = new TextEncoder();
        for (let i = 0; i < parts; i++) {
          const text = await db.exportPart(token, i);
          bytes += encoder.encode(text).length;
          this.sql.exec("INSERT OR REPLACE INTO export_parts (token, part, text) VALUES (?, ?, ?)", token, i, text);
        }
        await db.dropExport(token, parts);
        const old = this.sql.exec("SELECT token FROM exports WHERE bookmark = ?", job.bookmark).toArray()[0];
        if (old) this.sql.exec("DELETE FROM export_parts WHERE token = ?", old.token);
        this.sql.exec(
          "INSERT OR REPLACE INTO exports (bookmark, uuid, polls_left, token, dump) VALUES (?, ?, ?, ?, ?)",
          job.bookmark,
          row.uuid,
          this.limits.exportPolls,
          token,
          String(bytes),
        );
        return running(job.bookmark, "Generating a SQL dump of the database");
      }
    } else {
      job = this.sql.exec("SELECT * FROM exports WHERE bookmark = ? AND uuid = ?", String(body.current_bookmark), row.uuid).toArray()[0];
      if (!job) throw malformed("Unknown export bookmark");
    }
    if (taskError) {
      this.sql.exec("DELETE FROM exports WHERE bookmark = ?", job.bookmark);
      this.sql.exec("DELETE FROM export_parts WHERE token = ?", job.token);
      return ok(task(job.bookmark, { status: "error", success: false, error: taskError, messages: [`Export failed: ${taskError}`] }));
    }
    if (job.polls_left > 1) {
      this.sql.exec("UPDATE exports SET polls_left = polls_left - 1 WHERE bookmark = ?", job.bookmark);
      return running(job.bookmark, "Still generating");
    }
    if (job.expires === null) this.sql.exec("UPDATE exports SET polls_left = 0, expires = ? WHERE bookmark = ?", Date.now() + HOUR_MS, job.bookmark);
    return ok(
      task(job.bookmark, {
        status: "complete",
        messages: ["Export complete"],
        result: { filename: `${row.uuid}-${job.bookmark}.sql`, signed_url: `${url.origin}/__local/exports/${job.token}.sql` },
      }),
    );
  }

  async import(row, body, url, taskError) {
    const task = (fields) => ({ type: "import", success: true, ...fields });
    const etagOk = (etag) => typeof etag === "string" && /^[0-9a-f]{32}$/.test(etag);
    switch (body?.action) {
      case "init": {
        if (!etagOk(body.etag)) throw malformed("etag is the md5 hash of the file, in hex");
        this.forgetExpired();
        const token = crypto.randomUUID().replaceAll("-", "");
        const filename = `${row.uuid}-${body.etag}.sql`;
        this.sql.exec(
          "INSERT INTO uploads (token, uuid, filename, etag, expires) VALUES (?, ?, ?, ?, ?)",
          token,
          row.uuid,
          filename,
          body.etag,
          Date.now() + HOUR_MS,
        );
        return task({ filename, upload_url: `${url.origin}/__local/uploads/${token}` });
      }
      case "ingest": {
        if (!etagOk(body.etag) || typeof body.filename !== "string") throw malformed("ingest needs the etag and filename of an upload");
        const upload = this.sql
          .exec("SELECT * FROM uploads WHERE uuid = ? AND filename = ? AND etag = ? AND parts IS NOT NULL ORDER BY rowid DESC", row.uuid, body.filename, body.etag)
          .toArray()[0];
        if (!upload) throw malformed("No file with that name and etag was uploaded");
        const db = this.database(row.uuid);
        const bookmark = await db.bookmark();
        let answer;
        if (taskError) {
          answer = task({ at_bookmark: bookmark, status: "error", success: false, error: taskError, messages: [`Import failed: ${taskError}`] });
        } else {
          const started = performance.now();
          try {
            // The file goes to the database in its parts (an RPC carries at most 32 MiB), decoded
            // as one text, and runs there in one transaction.
            const decoder = new TextDecoder();
            for (let i = 0; i < upload.parts; i++) {
              const part = this.sql.exec("SELECT bytes FROM upload_parts WHERE token = ? AND part = ?", upload.token, i).one();
              await db.stageImport(upload.token, i, decoder.decode(new Uint8Array(part.bytes), { stream: i + 1 < upload.parts }));
            }
            const result = await db.runStagedImport(upload.token, upload.parts);
            result.meta.duration = performance.now() - started;
            answer = task({ at_bookmark: bookmark, status: "complete", messages: ["Import complete"], result });
          } catch (error) {
            const why = String(error?.message ?? error).replace(/^(SqlFailure|Error): /, "");
            answer = task({ at_bookmark: bookmark, status: "error", success: false, error: why, messages: [`Import failed: ${why}`] });
          }
        }
        this.sql.exec("INSERT OR REPLACE INTO imports (bookmark, uuid, answer) VALUES (?, ?, ?)", bookmark, row.uuid, JSON.stringify(answer));
        return answer;
      }
      case "poll": {
        const done = this.sql.exec("SELECT answer FROM imports WHERE bookmark = ? AND uuid = ?", String(body.current_bookmark), row.uuid).toArray()[0];
        if (!done) throw malformed("Unknown import bookmark");
        return JSON.parse(done.answer);
      }
    }
    throw malformed('action is one of "init", "ingest", "poll"');
  }

  // ---- Time travel --------------------------------------------------------------------------

  /** The bookmark at or before `timestamp` (ISO 8601), or the current one; throws a 7400. */
  async bookmarkAt(row, timestamp) {
    const db = this.database(row.uuid);
    if (timestamp === null) return db.bookmark();
    const at = Date.parse(timestamp);
    const now = Date.now();
    if (Number.isNaN(at)) throw malformed("timestamp is an ISO 8601 date and time");
    if (at > now) throw malformed("timestamp is in the future");
    if (at < now - TIME_TRAVEL_MS) throw malformed("timestamp is more than 30 days ago");
    if (at < Date.parse(row.created_at)) throw malformed("timestamp is before the database was created");
    // A database untouched since it was created has no state before its first bookmark.
    return (await db.bookmark(at)) ?? (await db.history())[0].bookmark;
  }

  async bookmark(row, params) {
    return { bookmark: await this.bookmarkAt(row, params.get("timestamp")) };
  }

  async restore(row, params) {
    const bookmark = params.get("bookmark");
    const timestamp = params.get("timestamp");
    if ((bookmark === null) === (timestamp === null)) throw malformed("Give either bookmark or timestamp");
    const target = bookmark ?? (await this.bookmarkAt(row, timestamp));
    const restored = await this.database(row.uuid).restore(target);
    if (!restored) throw malformed("Unknown bookmark for this database");
    return { ...restored, message: `Restored the database to bookmark ${target}` };
  }

  // ---- Worker settings ----------------------------------------------------------------------

  knownScript(script) {
    const known = (this.env.LOCAL_SCRIPTS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    if (known.includes("*")) return;
    const stored = this.sql.exec("SELECT 1 FROM settings WHERE script = ?", script).toArray().length > 0;
    if (!known.includes(script) && !stored) throw new ApiError(404, 10007, "This Worker does not exist on your account.");
  }

  settings(script) {
    this.knownScript(script);
    const row = this.sql.exec("SELECT json FROM settings WHERE script = ?", script).toArray()[0];
    return row ? JSON.parse(row.json) : structuredClone(DEFAULT_SETTINGS);
  }

  storeSettings(script, settings) {
    this.sql.exec(
      "INSERT INTO settings (script, json) VALUES (?, ?) ON CONFLICT (script) DO UPDATE SET json = excluded.json",
      script,
      JSON.stringify(settings),
    );
    return settings;
  }

  async patchSettings(script, request) {
    const current = this.settings(script);
    const unparsable = new ApiError(400, 10026, "Could not parse request body");
    if (!(request.headers.get("content-type") ?? "").startsWith("multipart/form-data")) throw unparsable;
    let part;
    try {
      part = (await request.formData()).get("settings");
    } catch {
      throw unparsable;
    }
    if (part === null) throw new ApiError(400, 10201, "The multipart body has no settings part");
    let patch;
    try {
      patch = JSON.parse(typeof part === "string" ? part : await part.text());
    } catch {
      throw unparsable;
    }
    checkPatch(patch, SETTINGS_FIELDS);
    const next = { ...current, ...patch };
    if (patch.bindings !== undefined) next.bindings = nextBindings(patch.bindings, current.bindings, (id) => UUID.test(id) && !!this.row(id));
    return this.storeSettings(script, next);
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
        if (!row || row.expires === null || row.expires < Date.now()) return new Response("Not found", { status: 404 });
        // Streamed part by part with its length known, as R2 serves the real API's dump.
        const { readable, writable } = new FixedLengthStream(Number(row.dump));
        const part = (i) => this.sql.exec("SELECT text FROM export_parts WHERE token = ? AND part = ?", download[1], i).toArray()[0];
        (async () => {
          const writer = writable.getWriter();
          const encoder = new TextEncoder();
          try {
            for (let i = 0, p; (p = part(i)); i++) await writer.write(encoder.encode(p.text));
            await writer.close();
          } catch (error) {
            await writer.abort(error).catch(() => {});
          }
        })();
        return new Response(readable, { headers: { "content-type": "application/sql" } });
      }
      const upload = /^\/__local\/uploads\/([0-9a-f]+)$/.exec(url.pathname);
      if (request.method === "PUT" && upload) return this.receiveUpload(upload[1], request);
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
          return reply({ total: Object.values(calls).reduce((a, b) => a + b, 0), calls, rateLimited: this.rateLimited ?? 0 });
        }
        case "DELETE /__local/calls":
          this.sql.exec("DELETE FROM calls");
          this.rateLimited = 0;
          return reply({ total: 0, calls: {}, rateLimited: 0 });
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
          this.sql.exec(
            "DELETE FROM databases; DELETE FROM calls; DELETE FROM settings; DELETE FROM exports; DELETE FROM export_parts; DELETE FROM uploads; DELETE FROM upload_parts; DELETE FROM imports; DELETE FROM state;",
          );
          this.rules = [];
          this.rateLimited = 0;
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

  /**
   * The presigned upload URL of an import: stores the file as it streams in, in parts of 1 MB (a
   * row holds at most 2 MB), and answers its md5 as the etag, as R2 does.
   */
  async receiveUpload(token, request) {
    const slot = this.sql.exec("SELECT * FROM uploads WHERE token = ?", token).toArray()[0];
    if (!slot || slot.expires < Date.now()) return new Response("Not found", { status: 404 });
    // As R2 (S3) does: a PUT of unknown length (chunked) is refused.
    const length = Number(request.headers.get("content-length") ?? NaN);
    if (!Number.isInteger(length)) return new Response("MissingContentLength", { status: 411 });
    this.sql.exec("DELETE FROM upload_parts WHERE token = ?", token);
    const digest = new crypto.DigestStream("MD5");
    const hashing = digest.getWriter();
    let part = 0;
    let held = [];
    let size = 0;
    const keep = () => {
      const bytes = new Uint8Array(size);
      let at = 0;
      for (const chunk of held) bytes.set(chunk, (at += chunk.length) - chunk.length);
      this.sql.exec("INSERT INTO upload_parts (token, part, bytes) VALUES (?, ?, ?)", token, part++, bytes.buffer);
      held = [];
      size = 0;
    };
    for await (const chunk of request.body ?? []) {
      await hashing.write(chunk);
      for (let at = 0; at < chunk.length; ) {
        const take = Math.min(UPLOAD_PART - size, chunk.length - at);
        held.push(chunk.subarray(at, at + take));
        size += take;
        at += take;
        if (size === UPLOAD_PART) keep();
      }
    }
    if (size > 0) keep();
    await hashing.close();
    const md5 = [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    // Ingest then finds the file by the etag it was uploaded with, so a damaged upload is refused.
    this.sql.exec("UPDATE uploads SET parts = ?, etag = ? WHERE token = ?", part, md5, token);
    return new Response(null, { status: 200, headers: { etag: `"${md5}"` } });
  }

  /** Drops exports whose URL expired, and uploads never ingested past theirs. */
  forgetExpired() {
    const now = Date.now();
    this.sql.exec("DELETE FROM export_parts WHERE token IN (SELECT token FROM exports WHERE expires < ?)", now);
    this.sql.exec("DELETE FROM exports WHERE expires < ?", now);
    this.sql.exec("DELETE FROM upload_parts WHERE token IN (SELECT token FROM uploads WHERE expires < ?)", now);
    this.sql.exec("DELETE FROM uploads WHERE expires < ?", now);
  }
}
