// What the worker in src/ must answer, whichever tool built and ran it. The node:test and vitest
// suites here and the repository's spec that runs the bundles all check these.
import { SignJWT, importJWK } from "jose";

// Test-only keys: the public half of this Ed25519 key and the secret are in wrangler.json.
const ED25519 = {
  kty: "OKP",
  crv: "Ed25519",
  x: "Eshwsvov6itwZEwKC7RBEJZejMFif7aG8PH-8DCEbyY",
  d: "njrrxpjm4Z1xa8APMu9szAmDPjxW4yZPMovzyrupRjw",
};
const SECRET = "consumer-test-secret-of-32-bytes!";

export type Case = {
  name: string;
  url: string;
  token?: string;
  /** Whether the token's signature is checked with WebCrypto (a public key) rather than in wasm. */
  publicKey: boolean;
  status: number;
  /** Members the JSON body must have, compared deeply; others are ignored. */
  body: Record<string, unknown>;
};

async function sign(claims: Record<string, unknown>, alg: "HS256" | "EdDSA"): Promise<string> {
  const key = alg === "HS256" ? new TextEncoder().encode(SECRET) : await importJWK(ED25519, "EdDSA");
  return new SignJWT(claims)
    .setProtectedHeader({ alg, kid: alg === "HS256" ? "hs" : "ed" })
    .setIssuer("https://issuer.example/")
    .setExpirationTime("10m")
    .sign(key);
}

export async function cases(): Promise<Case[]> {
  const acme = await sign({ tenant: "acme", scope: "read write" }, "HS256");
  const beta = await sign({ tenant: "beta", permissions: ["reports:read"] }, "EdDSA");
  const scopeArray = await sign({ tenant: "acme", scope: ["read"] }, "HS256");
  const member = (tenant: string, source: string, scopes: string[]) => ({ tenant, source, access: "member", scopes });
  return [
    { name: "a public path", url: "https://example.com/health", publicKey: false, status: 200, body: { status: "ok" } },
    { name: "no token", url: "https://acme.example.com/api/whoami", publicKey: false, status: 401, body: { error: { code: "unauthenticated" } } },
    { name: "an HS256 token on its subdomain", url: "https://acme.example.com/api/whoami", token: acme, publicKey: false, status: 200, body: member("acme", "subdomain", ["read", "write"]) },
    { name: "an EdDSA token on its subdomain", url: "https://beta.example.com/api/whoami", token: beta, publicKey: true, status: 200, body: member("beta", "subdomain", ["reports:read"]) },
    { name: "a default reserved label", url: "https://www.example.com/api/whoami", token: acme, publicKey: false, status: 200, body: member("acme", "jwtClaim", ["read", "write"]) },
    { name: "an added reserved label", url: "https://docs.example.com/api/whoami", token: acme, publicKey: false, status: 200, body: member("acme", "jwtClaim", ["read", "write"]) },
    { name: "another tenant's subdomain", url: "https://beta.example.com/api/whoami", token: acme, publicKey: false, status: 403, body: { error: { code: "forbidden" } } },
    { name: "a scope array", url: "https://acme.example.com/api/whoami", token: scopeArray, publicKey: false, status: 401, body: { error: { code: "unauthenticated" } } },
    { name: "an invalid tenant id", url: "https://ab--c.example.com/api/whoami", token: acme, publicKey: false, status: 400, body: { error: { code: "invalid_tenant_id" } } },
  ];
}

/** The request a case sends. */
export function request(c: Case): Request {
  return new Request(c.url, { headers: c.token ? { authorization: `Bearer ${c.token}` } : {} });
}

/** What went wrong with `response` for `c`, or null when it is right. */
export async function mismatch(c: Case, response: Response): Promise<string | null> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `${c.name}: not JSON (status ${response.status}): ${text.slice(0, 200)}`;
  }
  if (response.status === c.status && contains(body, c.body)) return null;
  return `${c.name}: expected ${c.status} ${JSON.stringify(c.body)}, got ${response.status} ${text.slice(0, 300)}`;
}

function contains(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== "object" || expected === null) return actual === expected;
  if (typeof actual !== "object" || actual === null) return false;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => contains(actual[i], e));
  }
  return Object.entries(expected).every(([key, value]) => contains((actual as Record<string, unknown>)[key], value));
}
