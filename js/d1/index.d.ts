/**
 * `edge-tenancy/d1`: the D1 database factory, the D1 backend of `@authhero/cloudflare`'s
 * `createD1Factory` with the same names and shape.
 * @packageDocumentation
 */
import type { TenantId, TenantStatus } from "../index.js";
import type { D1Database } from "./rest.js";

export type { D1Database } from "./rest.js";

/** A tenant as the registry holds it. */
export interface TenantRecord {
  id: TenantId;
  /** `d1`, or `custom` for a factory written in JS. */
  backend: string;
  state: "provisioning" | "ready" | "deprovisioning" | "failed";
  /** Why provisioning or deprovisioning last failed (for operators). */
  error: string | null;
  /** That failure's stable code (`hook_failed`, `upstream_unavailable`, …); `binding_limit` on a ready tenant served over REST. */
  error_code: string | null;
  database_id: string | null;
  database_name: string | null;
  /** The Worker binding that reaches the database, once bound (`TENANT_ACME`). */
  binding: string | null;
  script: string | null;
  generation: number;
  schema_group: string | null;
  schema_version: number;
  attachable: boolean;
  /** Where the backup taken before its removal is (an R2 key), once taken. */
  backup: string | null;
  /** The backup its database was restored from, when `restore` made it. */
  restored_from: string | null;
  /** Milliseconds since the epoch. */
  created_at: number;
  updated_at: number;
}

/** What a provisioning or deprovisioning hook is given. */
export interface TenantEvent {
  tenantId: TenantId;
  record: TenantRecord;
  /** The tenant's database: its binding when this Worker has it, else over the REST API. */
  database: D1Database;
}

export interface D1FactoryOptions<Adapters> {
  /** The D1 binding of the tenant registry (the control plane's database). */
  registry: D1Database;
  /** Where tenants' bindings (`TENANT_<ID>`) are looked for: the Worker's env. */
  env?: object;
  /** The Cloudflare account that owns the databases (32 hex digits). */
  accountId: string;
  /** An API token with D1 edit (and Workers scripts edit, with `bindTo`). Never logged or sent back. */
  apiToken: string;
  /** A service binding that answers the Cloudflare API instead of `fetch` (the local API in development). */
  api?: { fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> };
  /** Another base URL than `https://api.cloudflare.com/client/v4`. */
  apiBase?: string;
  /** Put before the tenant id to name its database (`<prefix><tenant id>-<registry id>`). @default "tenant_" */
  databasePrefix?: string;
  /** Where new databases' primaries go. */
  locationHint?: "wnam" | "enam" | "weur" | "eeur" | "apac" | "oc";
  /** Where new databases' data must stay. */
  jurisdiction?: "eu" | "fedramp" | "us";
  /**
   * The Worker script each new database is bound to, keeping its other bindings; or several
   * (shards), each holding up to `maxBindings`, filled in order. A Worker with the service binding
   * `SHARD_<SCRIPT>` (the script's name upper case, `-` as `_`) hands a request for a tenant bound
   * to that shard to it whole.
   */
  bindTo?: string | string[];
  /**
   * The most D1 bindings each `bindTo` Worker may hold: a tenant provisioned past it is bound to
   * the next; past the last, made ready unbound (its record's `error_code` is `binding_limit`) and
   * its queries use the REST API.
   * @default 5000
   */
  maxBindings?: number;
  /**
   * How long, in seconds, the binding list the last change of the `bindTo` Worker's bindings
   * answered stands in for reading it before the next change (a burst of provisionings reads it
   * once). A binding added to the Worker by hand within that time may be dropped by the next
   * change; a deploy that removed one is noticed and the list read. 0 reads it every time.
   * @default 60
   */
  bindingListSecs?: number;
  /** Timeouts, retries and the request budget of the API client. */
  client?: {
    timeoutMs?: number;
    retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number; maxElapsedMs?: number };
    budget?: { limit?: number; windowSecs?: number; maxWaitMs?: number };
    exportPollMs?: number;
    exportMaxMs?: number;
  };
  /**
   * The schema group every tenant is provisioned into: each new database gets its migrations up
   * to the group's version before it is ready, refuses schema changes of its own (403 `blocked`;
   * writes 503 `schema_migrating` while a job holds the group), and catches up on its first
   * request in an isolate when it is behind its group. Migration jobs move the whole group
   * (`jobs`). Migrations are a wrangler `migrations/` folder's files (`{"0001_init.sql": sql}`,
   * applied by their numbers) or a list applied in order.
   */
  schema?: {
    /** 1 to 64 of `a-z`, `0-9`, `-`, `_`. */
    group: string;
    migrations: Record<string, string> | { name: string; sql: string }[];
  };
  /** The tenant's adapters over its database; made once per database per isolate and kept. */
  createAdapters: (database: D1Database, tenantId: TenantId) => Adapters | Promise<Adapters>;
  /** After the database is made and bound, before the tenant is ready (migrations, seed data). A throw marks the tenant failed. */
  afterProvision?: (event: TenantEvent) => void | Promise<void>;
  /** Before anything is removed (a backup). A throw stops the deprovisioning. */
  beforeDeprovision?: (event: TenantEvent) => void | Promise<void>;
  /**
   * An R2 binding: before a tenant's database is deleted, its SQL dump is streamed into it as
   * `backups/<tenant>/<ms>.sql` (before `beforeDeprovision`), the key recorded in the tenant's row.
   * Given and not bound (`env.BACKUPS` undefined), `createD1Factory` throws.
   */
  backupBucket?: {
    put(key: string, value: ReadableStream | null): Promise<{ size: number } | null>;
    head(key: string): Promise<{ size: number; etag: string } | null>;
    get(key: string): Promise<{ size: number; etag: string; body: ReadableStream } | null>;
  };
}

/** What to do when a tenant's migration fails: roll every tenant back, or that one alone and go on. */
export type OnError = "fail" | "continue";

/** A migration job's settings, each optional (the body of `POST /schema/jobs`). */
export interface JobSettings {
  /** Only dry-run every tenant: the job ends `dry_run_passed` or `dry_run_failed`. */
  dry_run_only?: boolean;
  /** Tenants migrated at once, 1 to 50. @default 10 */
  concurrency?: number;
  /** How long writes are held before the first restore point, in seconds (at most 3600). @default 65 */
  hold_secs?: number;
  /** Tenants migrated first, as a stage of their own. */
  canary?: string[];
  /** @default "fail" */
  canary_on_error?: OnError;
  /** @default "fail" */
  on_error?: OnError;
}

/** A migration job as it stands (phase, counts by state, failing tenants, progress, times). */
export interface JobReport {
  id: number;
  group: string;
  /** How many of the group's migrations the job brings every tenant to. */
  version: number;
  phase: string;
  /** `committed`, `rolled_back`, `dry_run_passed`, `dry_run_failed` or `cancelled`; null while it runs. */
  outcome: string | null;
  paused: boolean;
  cancelled: boolean;
  settings: object;
  /** Tenants by state (`pending`, `dry_run_passed`, `migrated`, `restored`, …). */
  counts: Record<string, number>;
  /** Each failing tenant with its error. */
  failing: object[];
  /** Why the group's schema database refused the migrations, when it did. */
  schema_error: string | null;
  /** How far it is, 0 to 1. */
  done: number;
  elapsed_ms: number;
  estimate_ms: number | null;
  created_at: number;
  updated_at: number;
  /** A page of its tenants' tasks, when asked for, and where the next page starts (null: none). */
  tasks?: object[];
  tasks_next?: number | null;
}

/** The schema group's migration jobs: dry runs, writes held, all or none, resumable. */
export interface SchemaJobs {
  /** Submits a job bringing every ready tenant of the group to its migrations: its report, with the lint's `warnings`. */
  submit(settings?: JobSettings | string): Promise<JobReport & { warnings: string[] }>;
  /** Job `id`; with `tasks`, a page of its tenants' tasks in the job's order (from place `from`, at most `limit`, 1,000). */
  get(id: number | string, options?: { tasks?: boolean; from?: number; limit?: number }): Promise<JobReport>;
  /** Drives (within `calls` database calls and subrequests, at most 900, and `secs`, at most 25), pauses, resumes or cancels job `id`. */
  act(id: number | string, action: "drive" | "pause" | "resume" | "cancel", limits?: { calls?: number; secs?: number }): Promise<JobReport>;
  /** Drives every job not over, oldest first, within `calls` and `secs` in all: for a Cron Trigger's `scheduled` handler. */
  driveAll(limits?: { calls?: number; secs?: number }): Promise<{ jobs: JobReport[] }>;
  /** A page of the group's tenants, each with the version its ledger shows, what it lacks and its drift. */
  drift(page?: { after?: string; limit?: number }): Promise<{ tenants: object[]; next: TenantId | null }>;
}

/** Where the provisioning queue stands, and this isolate's API budget. */
export interface QueueStatus {
  /** Tenants waiting, or waiting to be tried again. */
  length: number;
  /** Of them, those that failed for a passing reason and wait to be tried again (a minute). */
  retrying: number;
  budget: { used: number; left: number; limit: number; window_secs: number };
  /** How long the queue takes at the budget's pace, in seconds. */
  drain_secs: number;
}

/** Tenants taken at once and provisioned in the background, oldest first, within the API's budget. */
export interface ProvisioningQueue {
  /** Queues 1 to 1,000 tenants (each checked first; none queued when one does not fit): those queued now. */
  add(ids: string[]): Promise<{ queued: TenantId[]; queue: QueueStatus }>;
  status(): Promise<QueueStatus>;
  /**
   * Provisions due tenants for at most `secs` (20, at most 25) and `tenants` (40, at most 60),
   * stopping where the budget has no room (`stopped: "budget"`, `wait_ms` until it has).
   */
  drain(limits?: { secs?: number; tenants?: number }): Promise<{
    drained: { ready: TenantId[]; failed: { tenant: TenantId; code: string }[]; stopped: "empty" | "budget" | "limit"; wait_ms: number };
    queue: QueueStatus;
  }>;
}

/** A page of tenants in id order; `next` is the id to ask for the next page after. */
export interface TenantPage {
  tenants: TenantRecord[];
  next: TenantId | null;
}

export interface D1Factory<Adapters> {
  /** The tenant's adapters. Throws `EdgeTenancyError` 404 `tenant_not_found` or 503 `tenant_unavailable`. */
  getAdapters(tenantId: string): Promise<Adapters>;
  /** The tenant's database. */
  database(tenantId: string): Promise<D1Database>;
  /** Makes and registers the tenant's database, or finishes an earlier attempt; idempotent. */
  provision(tenantId: string): Promise<{ record: TenantRecord; already: boolean }>;
  /**
   * Removes the tenant's database, then its record; calling again resumes. Answers the key of
   * the backup taken before the delete (with a `backupBucket`), else null.
   */
  deprovision(tenantId: string): Promise<string | null>;
  /**
   * With a `backupBucket`: makes the tenant with a new database filled from the backup at
   * `backupKey` (what `deprovision` answered), streamed from the bucket to D1's import, then
   * bound, `afterProvision`, ready; a failed restore is resumed by `provision`. Throws
   * `EdgeTenancyError` 404 `not_found` for a key with no backup and 409 `tenant_exists` for a
   * tenant the registry holds (deprovision it first).
   */
  restore?(tenantId: string, backupKey: string): Promise<{ record: TenantRecord; already: boolean }>;
  /**
   * With shards (`bindTo` a list): moves the ready tenant's database binding to `script`, one of
   * them (bound there, recorded, unbound from where it was); its requests follow once that Worker
   * runs with the binding (at once on Cloudflare, where the settings change deploys it). Throws `EdgeTenancyError` 409 `binding_limit` when that shard is
   * full, 400 `invalid_body` for a script that is none of them.
   */
  move(tenantId: string, script: string): Promise<TenantRecord>;
  get(tenantId: string): Promise<TenantRecord>;
  list(page?: { after?: string; limit?: number }): Promise<TenantPage>;
  /** What the registry says of a tenant (through the per-isolate cache). */
  lookUpTenant(tenantId: string): Promise<TenantStatus>;
  /** The tenant's database as SQL (D1's export): a `Response` streaming the dump. */
  exportDatabase(tenantId: string): Promise<Response>;
  /** The schema group's migration jobs, with a `schema` setting. */
  jobs?: SchemaJobs;
  /** The provisioning queue: for onboarding many tenants within the API's limit. */
  queue: ProvisioningQueue;
}

/**
 * The D1 factory. Every setting is checked here by name, functions and bindings included: an
 * unknown or misspelled one throws, naming it, the setting it most likely stands for and every
 * known one.
 * @example
 * const factory = createD1Factory({ registry: env.CONTROL_PLANE, env, accountId: env.CF_ACCOUNT_ID,
 *   apiToken: env.CF_API_TOKEN, createAdapters: (db) => drizzle(db) });
 */
export declare function createD1Factory<Adapters>(
  options: D1FactoryOptions<Adapters> & { schema: NonNullable<D1FactoryOptions<Adapters>["schema"]> },
): D1Factory<Adapters> & { jobs: SchemaJobs };
export declare function createD1Factory<Adapters>(options: D1FactoryOptions<Adapters>): D1Factory<Adapters>;
