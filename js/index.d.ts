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
  | { type: "customDomain"; /** host → tenant id */ domains?: Record<string, string> }
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
   * A JWKS URL the keys are fetched from (with `fetch`, 5 s timeout): on first use, when older
   * than `jwksRefresh.maxAgeSecs`, and for a token with an unknown `kid` at most once per
   * `jwksRefresh.minIntervalSecs`. A failed fetch keeps the keys there were; with none, 503.
   */
  jwksUrl?: string;
  /** @default { maxAgeSecs: 3600, minIntervalSecs: 60 } */
  jwksRefresh?: { maxAgeSecs: number; minIntervalSecs: number };
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

/** Everything {@link createTenancy} needs. */
export interface TenancyConfig {
  resolve: {
    strategies: Strategy[];
    /** The tenant for requests that name none. */
    controlPlaneTenant?: string;
    /** Trust `X-Forwarded-Host` (only behind a proxy that sets it). @default false */
    trustForwardedHost?: boolean;
  };
  /** Without it, every token is refused and only public paths pass. */
  authenticate?: AuthenticateConfig;
  access?: {
    /** Scope that makes a control-plane token an administrator. @default "tenants:admin" */
    adminScope?: string;
    /** Paths that need no token (`/health` covers `/health/…`). */
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
  readonly principal: Principal | null;
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
   * Resolve, authenticate and authorize `request`: one call into wasm. The first time a token
   * signed with a public key (EdDSA, ES256, RS256) is seen, its signature is checked with the
   * runtime's WebCrypto between two calls; verified tokens are remembered per isolate. A request
   * with the same URL (query aside, unless a query strategy reads it) and the same headers as an
   * earlier success gets that answer again without entering wasm, until the token expires
   * (`cacheTokens` bounds how many are kept).
   */
  resolve(request: Request): Promise<TenantContext | TenancyFailure>;
}

/**
 * Builds the pipeline once (at module scope); a bad setting throws here, not on a request.
 * @example
 * const tenancy = createTenancy({ resolve: { strategies: [{ type: "subdomain", baseDomains: ["example.com"] }] } });
 * const result = await tenancy.resolve(request);
 * if (!result.ok) return result.response;
 */
export declare function createTenancy(config: TenancyConfig): Tenancy;
