/**
 * edge-tenancy: database-per-tenant middleware for Cloudflare Workers.
 * @packageDocumentation
 */

/** A string that passed {@link parseTenantId}: 1–63 of `a-z`, `0-9`, `-`, no edge `-`, no `xn--` form. */
export type TenantId = string & { readonly __brand: "TenantId" };

/** The library's version (the Rust crate's). */
export declare const version: string;

/**
 * Returns `value` as a {@link TenantId} when it is one, unchanged (never folded or trimmed).
 * @throws {EdgeTenancyError} status 400, code `invalid_tenant_id`, when it is not.
 * @example
 * const id = parseTenantId(c.req.param("tenant"));
 */
export declare function parseTenantId(value: string): TenantId;

/** Whether `value` is a valid tenant id. */
export declare function isTenantId(value: unknown): value is TenantId;

/** An error with the HTTP status and stable code edge-tenancy gives it. */
export declare class EdgeTenancyError extends Error {
  readonly name: "EdgeTenancyError";
  /** HTTP status, such as 400. */
  readonly status: number;
  /** Stable code for clients to branch on, such as `invalid_tenant_id`. */
  readonly code: string;
  /** The `WWW-Authenticate` challenge of a 401, else `null`. */
  readonly wwwAuthenticate: string | null;
  /** Seconds to wait before trying again (a 503 `tenant_unavailable`, say), else `null`. */
  readonly retryAfter: number | null;
  /** `{"error":{"code","message"}}` with {@link status}. */
  toResponse(): Response;
}

/** One way to find the tenant in a request; tried in the configured order, first match wins. */
export type Strategy =
  | {
      type: "subdomain";
      /** Base domains, e.g. `["example.com"]`; the longest that matches is used. */
      baseDomains: string[];
      /** Labels that are never tenants, on top of `www`, `api`, `app` and `admin` (unless `replaceReserved`). @default [] */
      reserved?: string[];
      /** Make `reserved` the whole list, without the four default labels. @default false */
      replaceReserved?: boolean;
      /** Take the label next to the base from deeper hosts (`eu.acme.example.com` → `acme`). @default false */
      nested?: boolean;
    }
  | {
      type: "customDomain";
      /** host → tenant id */
      domains?: Record<string, string>;
      /** Ask {@link TenancyOptions.lookUpDomain} about hosts `domains` does not hold. @default false */
      lookup?: boolean;
    }
  | { type: "header"; /** @default "x-tenant-id" */ name?: string }
  | { type: "pathPrefix"; /** `/t/{tenant}/…`; the rest of the path is handed on. @default "/t/" */ prefix?: string }
  | { type: "jwtClaim" }
  | { type: "query"; name: string };

/**
 * A public JSON Web Key, as in a JWKS's `keys`. jose's `JWK` (from `exportJWK`) and WebCrypto's
 * `JsonWebKey` are assignable. {@link createTenancy} refuses a key without `kty`, one other than
 * `RSA`, `EC` (P-256), `OKP` (Ed25519) or `oct` (with `alg`), and a private key (with `d`); keys
 * with `"use": "enc"` are skipped. Members not listed here are ignored.
 */
export interface Jwk {
  kty?: string;
  kid?: string;
  alg?: string;
  use?: string;
  key_ops?: string[];
  ext?: boolean;
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  k?: string;
  x5c?: string[];
  x5t?: string;
  "x5t#S256"?: string;
  x5u?: string;
}

/** How bearer tokens are verified. */
export interface AuthenticateConfig {
  /** Public keys (a JWKS's `keys`); each allows one algorithm (its `alg`, or the one its type implies). */
  keys?: readonly Jwk[];
  /**
   * A JWKS URL the keys are fetched from (`https:`; `http:` only for localhost), with `fetch`,
   * a 5 s timeout and a 1 MiB cap: on first use, when older than `jwksRefresh.maxAgeSecs`, and
   * for a token with an unknown `kid` at most once per `jwksRefresh.minIntervalSecs`. Requests
   * that need keys while a fetch is in flight wait for that one. A failed fetch keeps the keys
   * there were for `jwksRefresh.maxStaleSecs` past their max age; past that, or with none, 503.
   */
  jwksUrl?: string;
  /** @default { maxAgeSecs: 3600, minIntervalSecs: 60, maxStaleSecs: 600 } */
  jwksRefresh?: { maxAgeSecs: number; minIntervalSecs: number; maxStaleSecs?: number };
  /** HMAC secrets, each with its algorithm. */
  secrets?: { secret: string; alg: "HS256" | "HS384" | "HS512"; kid?: string }[];
  /** Required `iss`. */
  issuer?: string;
  /** Required member of `aud`. */
  audience?: string;
  /** Clock skew allowed on `exp` and `nbf`, in seconds. @default 60 */
  leewaySecs?: number;
  /** Refuse tokens without `exp`. @default true */
  requireExp?: boolean;
  /** The tenant claim: a name (`org_name`), a namespaced URL claim, or a dotted path (`org.id`). @default "tenant" */
  tenantClaim?: string;
  /** The claim listing databases the token may attach. @default "attach" */
  attachClaim?: string;
  /** Longest accepted token, in bytes. @default 8192 */
  maxTokenBytes?: number;
  /** Verified tokens (and successful answers) remembered per isolate; a hit skips the signature, never `exp`/`nbf`. 0 turns both off. @default 256 */
  cacheTokens?: number;
}

/** What the registry says of a tenant, as {@link TenancyOptions.lookUpTenant} answers. */
export type TenantStatus =
  | { state: "ready" }
  | { state: "notFound" }
  | { state: "unavailable"; /** Sent as `Retry-After`. */ retryAfterSecs: number };

/** What {@link createTenancy} takes besides the configuration: the I/O the pipeline may ask for. */
export interface TenancyOptions {
  /** Milliseconds since the epoch, as `Date.now()` (the default); tests pass a fake clock. */
  clock?: () => number;
  /**
   * The tenant that owns a custom domain (a normalized host), or `null`. Required with a
   * `customDomain` strategy that has `lookup: true`. A throw or a non-string fails the request
   * with 503 `lookup_unavailable`.
   */
  lookUpDomain?: (host: string) => Promise<string | null> | string | null;
  /**
   * What the registry says of a tenant (`null`: not found). Required with
   * `resolve.lookUpTenants`. A throw fails the request with 503 `lookup_unavailable`.
   */
  lookUpTenant?: (tenant: TenantId) => Promise<TenantStatus | null> | TenantStatus | null;
}

/**
 * Everything {@link createTenancy} needs. Read strictly: an unknown or misspelled setting at
 * any depth throws at creation, naming its path, the setting it most likely stands for and every
 * known one (`authenticate.audiance: unknown setting; did you mean audience? (known: keys, …)`).
 */
export interface TenancyConfig {
  resolve: {
    strategies: Strategy[];
    /** The tenant for requests that name none. */
    controlPlaneTenant?: string;
    /** Trust `X-Forwarded-Host` (only behind a proxy that sets it). @default false */
    trustForwardedHost?: boolean;
    /**
     * Ask {@link TenancyOptions.lookUpTenant} whether each resolved tenant (but the control-plane
     * one) is registered and ready, after authorization: 404 `tenant_not_found` or 503
     * `tenant_unavailable` otherwise. @default false
     */
    lookUpTenants?: boolean;
  };
  /** Without it, every token is refused and only public paths pass. */
  authenticate?: AuthenticateConfig;
  access?: {
    /** Scope that makes a control-plane token an administrator. @default "tenants:admin" */
    adminScope?: string;
    /**
     * Paths that need no token (`/health` covers `/health/…`), matched against the path routed
     * on (without a tenant path prefix). A caller there who may not act for the tenant is
     * anonymous: `access: "public"`, no principal.
     */
    publicPaths?: string[];
  };
}

/** The verified caller. */
export interface Principal {
  readonly subject: string | null;
  readonly tenant: TenantId | null;
  readonly scopes: readonly string[];
  /** Databases the token may attach in multi-database queries. */
  readonly attach: readonly string[];
  /** `exp`, seconds since the epoch. */
  readonly expiresAt: number | null;
}

/** A request that passed the pipeline. Frozen: a repeated request may get the very same object. */
export interface TenantContext {
  readonly ok: true;
  readonly tenant: TenantId;
  readonly source: "subdomain" | "customDomain" | "header" | "pathPrefix" | "jwtClaim" | "query" | "controlPlane";
  /** The path to route on, without a tenant path prefix. */
  readonly path: string;
  /** A member of the tenant or a control-plane administrator; null for an anonymous caller. */
  readonly principal: Principal | null;
  /** "public": an anonymous caller on a public path; "member": the token's own tenant; "admin". */
  readonly access: "public" | "member" | "admin";
}

/**
 * The Hono context variables of a middleware that stores the context as `tenancy`:
 * `new Hono<{ Variables: TenancyVariables }>()` types `c.set("tenancy", result)` and
 * `c.get("tenancy")`.
 */
export type TenancyVariables = { tenancy: TenantContext };

/** A request that did not: the error, and the response to send. */
export interface TenancyFailure {
  ok: false;
  error: EdgeTenancyError;
  response: Response;
}

/** A configured pipeline. */
export interface Tenancy {
  /**
   * Authenticate, resolve, authorize and (if configured) look up the tenant of `request`. The
   * pipeline runs in wasm as a state machine; the I/O it asks for (a JWKS fetch, a WebCrypto
   * signature check for EdDSA, ES256 and RS256 tokens, a lookup callback) is done here and the
   * result handed back. Anything the pipeline did not ask for fails the request with 503
   * `pipeline_fault`. Verified tokens are remembered per isolate. A request with the same host,
   * the same headers the pipeline reads (the token among them) and an equally public path as an
   * earlier success with a token gets that answer again, with its own path, without entering
   * wasm (the path and query count only when a path prefix or query strategy reads them), until
   * the token expires, the keys fall due, or 5 minutes pass, and never across a change of keys;
   * with lookups configured, nothing is replayed.
   */
  resolve(request: Request): Promise<TenantContext | TenancyFailure>;
}

/**
 * Builds the pipeline once (at module scope); a bad setting or option throws here, not on a
 * request.
 * @example
 * const tenancy = createTenancy({ resolve: { strategies: [{ type: "subdomain", baseDomains: ["example.com"] }] } });
 * const result = await tenancy.resolve(request);
 * if (!result.ok) return result.response;
 */
export declare function createTenancy(config: TenancyConfig, options?: TenancyOptions): Tenancy;
