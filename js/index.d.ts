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
  /** `{"error":{"code","message"}}` with {@link status}. */
  toResponse(): Response;
}
