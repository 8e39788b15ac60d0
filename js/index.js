// The ESM face of edge-tenancy: turns errors thrown from Rust into EdgeTenancyError. Behaviour
// lives in Rust (js/binding); this file only adapts. The wasm is instantiated before this module
// runs, by the entry the package's export conditions chose (workerd.js or portable.js).
import * as wasm from "./dist/edge_tenancy.js";

export class EdgeTenancyError extends Error {
  constructor({ status, code, message, www_authenticate }) {
    super(message);
    this.name = "EdgeTenancyError";
    this.status = status;
    this.code = code;
    this.wwwAuthenticate = www_authenticate ?? null;
  }

  toResponse() {
    const headers = { "content-type": "application/json" };
    if (this.wwwAuthenticate) headers["www-authenticate"] = this.wwwAuthenticate;
    return new Response(JSON.stringify({ error: { code: this.code, message: this.message } }), {
      status: this.status,
      headers,
    });
  }
}

// Rust reports errors by throwing the JSON of an ErrorResponse; anything else is a real fault.
function call(fn, ...args) {
  try {
    return fn(...args);
  } catch (thrown) {
    if (typeof thrown === "string") throw new EdgeTenancyError(JSON.parse(thrown));
    throw thrown;
  }
}

export const version = wasm.version();

export function parseTenantId(value) {
  if (typeof value !== "string") {
    throw new EdgeTenancyError({ status: 400, code: "invalid_tenant_id", message: "a tenant id is a string" });
  }
  return call(wasm.parseTenantId, value);
}

export function isTenantId(value) {
  try {
    parseTenantId(value);
    return true;
  } catch (e) {
    if (e instanceof EdgeTenancyError) return false;
    throw e;
  }
}

// WebCrypto parameters for the public-key algorithms whose signatures JS checks.
const WEBCRYPTO = {
  EdDSA: { importAs: { name: "Ed25519" }, verifyWith: { name: "Ed25519" } },
  ES256: { importAs: { name: "ECDSA", namedCurve: "P-256" }, verifyWith: { name: "ECDSA", hash: "SHA-256" } },
  RS256: { importAs: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, verifyWith: { name: "RSASSA-PKCS1-v1_5" } },
};

const utf8 = new TextEncoder();
// Token headers differ by key and algorithm only, so a handful covers any real issuer.
const HEADERS_REMEMBERED = 64;
// A JWKS endpoint that has not answered by then is down; the keys the pipeline has stay.
const JWKS_TIMEOUT_MS = 5000;

// The JWKS document at `url`, or undefined when it could not be had (said in the log).
async function fetchJwks(url) {
  try {
    const response = await fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(JWKS_TIMEOUT_MS) });
    if (response.ok) return await response.text();
    console.error(`edge-tenancy: JWKS ${url} answered ${response.status}`);
  } catch (error) {
    console.error(`edge-tenancy: JWKS ${url} could not be fetched: ${error}`);
  }
  return undefined;
}

// Every hit of the answer memo below hands out the same object, so it must not change.
function deepFreeze(value) {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

export function createTenancy(config) {
  const tenancy = new wasm.Tenancy(config);
  const names = tenancy.headerNames().split("\n");
  const keys = new Map(); // key number → CryptoKey (null: unusable), or the Promise of one
  // Rust's answers, replayed for the same inputs while Rust says they hold (see `Reuse` in the
  // crate): a repeated request does not cross into wasm at all. Oldest out first.
  const reuse = JSON.parse(tenancy.reuse());
  const answers = new Map(); // URL and headers, as passed to Rust → { result, until }
  // The key Rust named for a token's header (its first segment: alg and kid), so a new token
  // under a known header has its signature checked before the one call into wasm, not between
  // two. Rust still picks the key itself and ignores a verdict reached with another.
  const checks = new Map(); // header segment → { key, alg }
  let refreshing = null; // the JWKS fetch in flight: requests that need keys meanwhile wait for it

  // Rust asked for the keys at its JWKS URL: fetch them once for every request that asks.
  function refreshKeys(url, now) {
    refreshing ??= fetchJwks(url)
      .then((body) => {
        const failure = tenancy.installJwks(body, now);
        if (failure !== undefined) return console.error(`edge-tenancy: keys from ${url} kept as they were: ${failure}`);
        // New keys: key numbers name other keys, and what was answered with the old ones goes.
        keys.clear();
        checks.clear();
        answers.clear();
      })
      .finally(() => (refreshing = null));
    return refreshing;
  }

  // A public-key signature check for Rust, with WebCrypto: the verdict.
  async function verify({ key, alg }, token) {
    const { importAs, verifyWith } = WEBCRYPTO[alg];
    let cryptoKey = keys.get(key);
    if (cryptoKey === undefined) {
      const imported = crypto.subtle.importKey("jwk", JSON.parse(tenancy.publicKey(key)), importAs, false, ["verify"]);
      cryptoKey = imported.then(
        (usable) => (keys.set(key, usable), usable),
        // A configured key WebCrypto refuses (say, a point off the curve) verifies nothing.
        (error) => (console.error(`edge-tenancy: key ${key} (${alg}) cannot be used: ${error}`), keys.set(key, null), null),
      );
      keys.set(key, cryptoKey);
    }
    // Awaited only while the import runs: an await costs a turn of the microtask queue.
    if (cryptoKey instanceof Promise) cryptoKey = await cryptoKey;
    if (cryptoKey === null) return false;
    const dot = token.lastIndexOf(".");
    try {
      return await crypto.subtle.verify(verifyWith, cryptoKey, Uint8Array.fromBase64(token.slice(dot + 1), { alphabet: "base64url" }), utf8.encode(token.slice(0, dot)));
    } catch {
      return false; // a signature WebCrypto cannot even read is not a valid one
    }
  }

  function settle(json, input) {
    const answer = JSON.parse(json);
    if (answer.error) {
      const error = new EdgeTenancyError(answer.error);
      return { ok: false, error, response: error.toResponse() };
    }
    const result = deepFreeze({ ok: true, ...answer.context });
    if (reuse.capacity > 0) {
      if (answers.size >= reuse.capacity) answers.delete(answers.keys().next().value);
      answers.set(input, { result, until: answer.until ?? Infinity });
    }
    return result;
  }

  return {
    async resolve(request) {
      const url = request.url;
      let headers = "";
      let authorization = "";
      for (const name of names) {
        const value = request.headers.get(name);
        if (value === null) continue;
        headers += `${name}\n${value}\n`;
        if (name === "authorization") authorization = value;
      }
      // Where Rust reads the token: after the 7 bytes of "Bearer ".
      const token = authorization.slice(7);
      const now = Date.now() / 1000;
      const query = url.indexOf("?");
      const input = `${reuse.readsQuery || query < 0 ? url : url.slice(0, query)}\n${headers}`;
      const known = answers.get(input);
      if (known !== undefined) {
        if (now < known.until) return known.result;
        answers.delete(input);
      }
      const header = token.slice(0, token.indexOf("."));
      let check = checks.get(header);
      let answer = check
        ? tenancy.resolveChecked(url, headers, now, check.key, await verify(check, token))
        : tenancy.resolve(url, headers, now);
      if (answer.startsWith('{"fetch"')) {
        await refreshKeys(JSON.parse(answer).fetch, now);
        answer = tenancy.resolve(url, headers, now); // Rust asks for keys at most once a second
      }
      if (answer.startsWith('{"check"')) {
        check = JSON.parse(answer).check;
        if (checks.size >= HEADERS_REMEMBERED) checks.delete(checks.keys().next().value);
        checks.set(header, check);
        answer = tenancy.resolveChecked(url, headers, now, check.key, await verify(check, token));
      }
      return settle(answer, input);
    },
  };
}
