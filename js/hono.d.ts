/**
 * `edge-tenancy/hono`: Hono middleware with the names and shapes of `@authhero/multi-tenancy`
 * (`setupMultiTenancy`, `createDatabaseMiddleware`), and `createD1Factory`.
 * @packageDocumentation
 */
import type { Hono, MiddlewareHandler } from "hono";
import type { Principal, Tenancy, TenancyConfig, TenancyOptions, TenantContext, TenantId } from "./index.js";
import type { D1Database } from "./d1/index.js";

export { createD1Factory } from "./d1/index.js";
export type { D1Factory, D1FactoryOptions, JobReport, JobSettings, ProvisioningQueue, QueueStatus, SchemaJobs, TenantEvent, TenantPage, TenantRecord } from "./d1/index.js";

/** A tenant's context as Rust decided it, with whether the caller administers every tenant. */
export type MultiTenancyContext = TenantContext & { readonly administrator: boolean };

/** The interface of `@authhero/multi-tenancy`'s database factories: a factory written in JS. */
export interface DatabaseFactory<Adapters> {
  getAdapters(tenantId: string): Promise<Adapters>;
  provision(tenantId: string): Promise<unknown>;
  deprovision(tenantId: string): Promise<unknown>;
}

export interface DatabaseIsolation<Adapters> {
  /** The tenant's adapters: a `createD1Factory` factory's, or a function of your own. */
  getAdapters: (tenantId: string) => Promise<Adapters>;
  /** What `POST /tenants` of the control-plane app runs. @default the D1 factory's provision */
  onProvision?: (tenantId: string) => Promise<unknown>;
  /** What `DELETE /tenants/:id` runs. @default the D1 factory's deprovision */
  onDeprovision?: (tenantId: string) => Promise<unknown>;
  /**
   * For a factory written in JS: the D1 binding of a tenant registry. Its provisioning then gets
   * the registry's states and leases, every request's tenant is looked up (404/503), and the
   * control-plane routes can list tenants. A D1 factory has its own.
   */
  registry?: D1Database;
  /**
   * Whether an anonymous caller on a public path (no token, or one that may not act for the
   * tenant) gets the tenant's adapters too. Off, such a request reaches its handler without
   * `c.env.data`: a public page that reads tenant data must say so here. @default false
   */
  allowAnonymous?: boolean;
}

/** The context variables the middleware sets (`c.get("tenantId")`, `c.var.principal`, …). */
export type MultiTenancyVariables = {
  tenancy: MultiTenancyContext;
  tenantId: TenantId;
  /** The verified caller, a member of the tenant or an administrator; null for an anonymous one. */
  principal: Principal | null;
  /**
   * The tenant's database, with a D1 factory (its binding, or the REST API). In a schema group it
   * refuses schema changes (403 `blocked`) unless the caller's token holds the `ddl` scope.
   */
  database: D1Database;
  /** Where the tenant's database stands in its schema group (after any catch-up), when it is in one. */
  schema?: { group: string; version: number };
};

/**
 * The Hono env of an app behind the middleware: your bindings, plus the tenant's adapters at
 * `c.env.data` (on a per-request copy of env).
 * @example
 * const app = new Hono<MultiTenancyEnv<Adapters, Bindings>>();
 */
export type MultiTenancyEnv<Adapters, Bindings extends object = {}> = {
  Bindings: Bindings & { data: Adapters };
  Variables: MultiTenancyVariables;
};

export interface MultiTenancyOptions<Adapters> extends Omit<TenancyConfig, "resolve">, Pick<TenancyOptions, "clock" | "lookUpDomain"> {
  resolve: TenancyConfig["resolve"];
  accessControl?: {
    /** The control-plane tenant: its administrators manage every tenant. */
    mainTenantId?: string;
  };
  databaseIsolation?: DatabaseIsolation<Adapters>;
}

export interface MultiTenancy<Adapters> {
  /** Resolve, authenticate, authorize, look up, and inject the tenant's adapters. */
  middleware: MiddlewareHandler<MultiTenancyEnv<Adapters>>;
  /**
   * `POST /tenants` `{id}`, `GET /tenants?after&limit`, `GET /tenants/:id`, `DELETE /tenants/:id`,
   * for control-plane administrators. `POST /tenants` answers 400 `invalid_body` for any other
   * field and for the control-plane tenant (`mainTenantId`), which has no tenant database.
   * With a D1 factory's `schema`: `POST /schema/jobs` (a job's settings), `GET
   * /schema/jobs/:id?tasks=1`, `POST /schema/jobs/:id/:action` (`drive?calls&secs`, `pause`,
   * `resume`, `cancel`) and `GET /schema/drift?after&limit`. With a D1 factory, the
   * provisioning queue: `POST /queue` `{ids}` (202), `GET /queue`, `POST /queue/drain?secs&tenants`.
   */
  app: Hono;
  /** The pipeline underneath. */
  tenancy: Tenancy;
}

/**
 * Builds the pipeline and the middleware once. A bad setting throws here, naming it; every
 * setting is checked by name, functions included, and an unknown one's error names the setting it
 * most likely stands for and every known one.
 */
export declare function setupMultiTenancy<Adapters>(options: MultiTenancyOptions<Adapters>): MultiTenancy<Adapters>;

/**
 * Injects the tenant's adapters at `c.env.data`, after a middleware that set `tenantId`. Its
 * settings are checked as setupMultiTenancy's are.
 */
export declare function createDatabaseMiddleware<Adapters>(options: {
  databaseIsolation: DatabaseIsolation<Adapters>;
}): MiddlewareHandler<MultiTenancyEnv<Adapters>>;
