// The ESM face of edge-tenancy: turns errors thrown from Rust into EdgeTenancyError. Behaviour
// lives in Rust (js/binding); this file only adapts. The wasm is instantiated before this module
// runs, by the entry the package's export conditions chose (workerd.js or portable.js).
import * as wasm from "./dist/edge_tenancy.js";
import { call, EdgeTenancyError } from "./errors.js";
import { RESOLVE, checkKeys } from "./internal.js";

export { EdgeTenancyError } from "./errors.js";

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
// A base64url signature as bytes: the runtime's own decoder where it has one (workerd), else atob
// (Node 22 has no Uint8Array.fromBase64).
const fromBase64url = Uint8Array.fromBase64
  ? (text) => Uint8Array.fromBase64(text, { alphabet: "base64url" })
  : (text) => Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
// A JWKS endpoint that has not answered by then is down; the keys the pipeline has stay.
const JWKS_TIMEOUT_MS = 5000;
// Real key sets are a few KiB; a larger body is not read past this.
const JWKS_MAX_BYTES = 1024 * 1024;
// Rust bounds a run at 8 I/O requests; this only guards the loop below against a broken binding.
const MAX_STEPS = 16;
const OPTIONS = ["clock", "lookUpDomain", "lookUpTenant"];
// What one kept answer holds besides its key: the context with its principal, its record and the
// Map's entry (about 850 bytes measured by bench/memory.mjs, with a token's usual claims).
const ANSWER_OVERHEAD_BYTES = 1024;

// The URL's authority, path and query (null: none), exactly as Rust's RequestParts reads them:
// the authority ends at the first "/", "?" or "#" after the scheme.
function urlParts(url) {
  const scheme = url.indexOf("://");
  let authority = "";
  let rest = url;
  if (scheme >= 0) {
    let end = scheme + 3;
    for (; end < url.length; end++) {
      const c = url.charCodeAt(end);
      if (c === 47 || c === 63 || c === 35) break; // "/", "?", "#"
    }
    authority = url.slice(scheme + 3, end);
    rest = url.slice(end);
  }
  const hash = rest.indexOf("#");
  if (hash >= 0) rest = rest.slice(0, hash);
  const query = rest.indexOf("?");
  return { authority, path: (query < 0 ? rest : rest.slice(0, query)) || "/", query: query < 0 ? null : rest.slice(query + 1) };
}

// The JWKS document at `url`, read up to JWKS_MAX_BYTES. Throws why there is none.
async function fetchJwks(url) {
  const response = await fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(JWKS_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`answered ${response.status}`);
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > JWKS_MAX_BYTES) {
      await reader.cancel();
      throw new Error(`larger than ${JWKS_MAX_BYTES} bytes`);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) body.set(chunk, (at += chunk.byteLength) - chunk.byteLength);
  return new TextDecoder().decode(body);
}

// Every hit of the answer memo below hands out the same object, so it must not change.
function deepFreeze(value) {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function failure(fields) {
  const error = new EdgeTenancyError(fields);
  return { ok: false, error, response: error.toResponse() };
}

// What any answer Rust did not define becomes: the request is refused, never let through.
const FAULT = { status: 503, code: "pipeline_fault", message: "the request could not be checked; try again" };

// The configuration as JSON for Rust, which reads every key of it strictly. A value JSON cannot
// carry (a function, say) would silently vanish from the text, so it is refused here by name.
function configJson(config) {
  return JSON.stringify(config, function (key, value) {
    if (["function", "symbol", "bigint"].includes(typeof value)) {
      throw new TypeError(`invalid edge-tenancy configuration: ${key || "the configuration"}: a ${typeof value} is not a setting`);
    }
    return value;
  });
}

function checkOptions(options) {
  checkKeys(options, OPTIONS, "createTenancy", "options", "option");
  for (const name of OPTIONS) {
    if (options[name] !== undefined && typeof options[name] !== "function") throw new TypeError(`edge-tenancy: createTenancy: options.${name} is a function`);
  }
}

export function createTenancy(config, options = {}) {
  checkOptions(options);
  const tenancy = new wasm.Tenancy(configJson(config));
  const { clock = Date.now, lookUpDomain, lookUpTenant } = options;
  const lookups = JSON.parse(tenancy.lookups());
  if (lookups.domains && !lookUpDomain) throw new TypeError("edge-tenancy: a customDomain strategy has lookup: true, so options.lookUpDomain is required");
  if (lookups.tenants && !lookUpTenant) throw new TypeError("edge-tenancy: resolve.lookUpTenants is on, so options.lookUpTenant is required");
  const names = tenancy.headerNames().split("\n");

  // Successful answers, replayed while Rust says they hold for any request with the same inputs
  // (`Reuse` in the crate): the authority, the headers Rust reads (the token among them), the
  // path's tenant head under a path prefix strategy, and the query only when a strategy reads it.
  // So a known token on a new path does not cross into wasm at all. Bounded in count and bytes,
  // oldest out first, and dropped whole when the key set changes.
  const reuse = JSON.parse(tenancy.reuse()); // null: the pipeline looks things up, nothing is replayed
  // The path as far as it can name the tenant (Reuse::path_prefixes): up to the end of the segment
  // after the first prefix it starts with; "" when it starts with none.
  const prefixes = reuse?.pathPrefixes ?? [];
  const tenantHead = (path) => {
    const prefix = prefixes.find((p) => path.startsWith(p));
    if (prefix === undefined) return "";
    const end = path.indexOf("/", prefix.length);
    return end < 0 ? path : path.slice(0, end);
  };
  const keeps = reuse !== null && reuse.capacity > 0;
  const answers = new Map(); // inputs → { result, until, size }
  let answerBytes = 0;
  let generation = tenancy.generation();
  // CryptoKeys by key set generation and place ("g:i"), or the Promise of one (null: unusable).
  const keys = new Map();
  // JWKS fetches in flight by the id Rust gave them: every request waiting for keys shares one.
  const fetches = new Map();
  // Which key Rust asked to check tokens of a header with (`{generation, index, alg}` by the
  // token's first segment): a new token with that header is checked before the call into wasm,
  // and the verdict goes in with it, so a first sight takes one crossing, not two. Rust uses the
  // verdict only if it picks exactly that key for the token.
  const checkedHeaders = new Map();
  const MAX_CHECKED_HEADERS = 64;

  function remember(input, result, until, gen) {
    const size = input.length * 2 + ANSWER_OVERHEAD_BYTES;
    // An answer of a key set replaced while its run awaited is not kept.
    if (!keeps || until === null || gen !== generation || size > reuse.maxBytes) return;
    while (answers.size >= reuse.capacity || answerBytes + size > reuse.maxBytes) {
      const [oldest, entry] = answers.entries().next().value;
      answers.delete(oldest);
      answerBytes -= entry.size;
    }
    answers.set(input, { result, until, size });
    answerBytes += size;
  }

  // A new key set: what was answered or imported under the old one goes.
  function observe(gen) {
    if (gen === generation) return;
    generation = gen;
    forget();
    for (const name of keys.keys()) if (!name.startsWith(`${gen}:`)) keys.delete(name);
  }

  function forget() {
    answers.clear();
    answerBytes = 0;
    checkedHeaders.clear();
  }

  // A wasm answer, parsed. Every one carries the key set's generation, taken here, in the same
  // turn as the call: no request can replay an answer of an older key set after it.
  function take(json) {
    const answer = JSON.parse(json);
    observe(answer.gen);
    return answer;
  }

  function sharedFetch({ url, id }) {
    let pending = fetches.get(id);
    if (pending === undefined) {
      pending = fetchJwks(url).then(
        (body) => ({ body }),
        (error) => ({ why: String(error) }),
      );
      fetches.set(id, pending);
      pending.finally(() => fetches.delete(id));
    }
    return pending;
  }

  // The CryptoKey for key `gen:index` (alg `alg`): the key, the Promise of it while WebCrypto
  // imports it, or null when it cannot be used.
  function cryptoKeyFor(gen, index, alg) {
    const name = `${gen}:${index}`;
    const known = keys.get(name);
    if (known !== undefined) return known;
    const jwk = tenancy.publicKey(gen, index);
    if (jwk === undefined) return null; // a key of an older set: Rust asks again with the new one
    const imported = crypto.subtle.importKey("jwk", JSON.parse(jwk), WEBCRYPTO[alg].importAs, false, ["verify"]).then(
      (usable) => usable,
      // A configured key WebCrypto refuses (say, a point off the curve) verifies nothing.
      (error) => (console.error(`edge-tenancy: key ${name} (${alg}) cannot be used: ${error}`), null),
    );
    keys.set(name, imported);
    // Kept under its own generation's name only: an import that ends after a rotation is never
    // found under a new key's name.
    imported.then((usable) => keys.get(name) === imported && keys.set(name, usable));
    return imported;
  }

  // `token`'s signature checked with `cryptoKey`: a Promise of the verdict (false when WebCrypto
  // cannot even read the signature, which is then not a valid one).
  function verifyWith(cryptoKey, alg, token) {
    if (cryptoKey === null) return Promise.resolve(false);
    const dot = token.lastIndexOf(".");
    try {
      const signature = fromBase64url(token.slice(dot + 1));
      return crypto.subtle.verify(WEBCRYPTO[alg].verifyWith, cryptoKey, signature, utf8.encode(token.slice(0, dot))).catch(() => false);
    } catch {
      return Promise.resolve(false);
    }
  }

  // The public-key signature check Rust asked for, with WebCrypto: a Promise of the verdict. Its
  // caller awaits it once: a key already imported adds no await of its own.
  function verify({ generation: gen, index, alg }, token) {
    const cryptoKey = cryptoKeyFor(gen, index, alg);
    return cryptoKey instanceof Promise ? cryptoKey.then((usable) => verifyWith(usable, alg, token)) : verifyWith(cryptoKey, alg, token);
  }

  // The key a token with `token`'s header was checked with, if it is of the current set.
  function knownCheck(token) {
    const dot = token.indexOf(".");
    const known = dot < 0 ? undefined : checkedHeaders.get(token.slice(0, dot));
    return known?.generation === generation ? known : undefined;
  }

  // Performs the I/O of `answer` and resumes its run: the next answer.
  async function step({ run, ticket, io }, token) {
    if (io.fetch !== undefined) {
      const { body, why } = await sharedFetch(io.fetch);
      return take(tenancy.resumeJwks(run, ticket, body, why ?? "", clock()));
    }
    if (io.check !== undefined) {
      const header = token.slice(0, token.indexOf("."));
      if (!checkedHeaders.has(header) && checkedHeaders.size < MAX_CHECKED_HEADERS) checkedHeaders.set(header, io.check);
      let valid;
      try {
        valid = await verify(io.check, token);
      } catch (error) {
        console.error(`edge-tenancy: a signature could not be checked: ${error}`);
      }
      return take(tenancy.resumeVerdict(run, ticket, valid, clock()));
    }
    if (io.domain !== undefined) {
      try {
        const tenant = await lookUpDomain(io.domain);
        return take(tenancy.resumeDomain(run, ticket, typeof tenant === "string" ? tenant : undefined, tenant == null || typeof tenant === "string", clock()));
      } catch (error) {
        console.error(`edge-tenancy: lookUpDomain(${io.domain}) threw: ${error}`);
        return take(tenancy.resumeDomain(run, ticket, undefined, false, clock()));
      }
    }
    if (io.tenant !== undefined) {
      let status;
      try {
        status = JSON.stringify((await lookUpTenant(io.tenant)) ?? { state: "notFound" });
      } catch (error) {
        console.error(`edge-tenancy: lookUpTenant(${io.tenant}) threw: ${error}`);
      }
      return take(tenancy.resumeTenant(run, ticket, status, clock()));
    }
    tenancy.abandon(run);
    return { error: FAULT };
  }

  // What the pipeline reads of `request`: its URL and the headers Rust reads, as Rust takes them.
  function read(request) {
    const url = request.url;
    let headers = "";
    let authorization = "";
    for (const name of names) {
      const value = request.headers.get(name);
      if (value === null) continue;
      headers += `${name}\n${value}\n`;
      if (name === "authorization") authorization = value;
    }
    return { url, headers, authorization };
  }

  // The key a kept answer for these inputs is under, and the path it is replayed with.
  function keyOf(url, headers) {
    const { authority, path, query } = urlParts(url);
    const head = tenantHead(path);
    return { input: `${authority}\n${head}\n${reuse.readsQuery && query !== null ? `?${query}` : ""}\n${headers}`, path, head };
  }

  // The answer kept under `key` at `now`, with the request's own path; undefined when none holds.
  function kept({ input, path, head }, now) {
    const known = answers.get(input);
    if (known === undefined) return undefined;
    if (now < known.until) {
      const { result } = known;
      // The context names the request's own path, without its tenant head when the path
      // prefix named the tenant (Rust's path_prefix: what is left, or "/").
      const own = result.source === "pathPrefix" ? path.slice(head.length) || "/" : path;
      return result.path === own ? result : Object.freeze({ ...result, path: own });
    }
    answers.delete(input);
    answerBytes -= known.size;
    return undefined;
  }

  // The answer for `request`: a kept one as it is (no await, for middleware that can skip one),
  // else a Promise of the pipeline's.
  function resolveNow(request) {
    const { url, headers, authorization } = read(request);
    const now = clock();
    const key = keeps ? keyOf(url, headers) : undefined;
    if (key !== undefined) {
      const hit = kept(key, now);
      if (hit !== undefined) return hit;
    }
    return fromPipeline(url, headers, authorization, now, key);
  }

  // The pipeline's answer for the request read as `url` and `headers`, kept under `key`.
  async function fromPipeline(url, headers, authorization, now, key) {
    // Where Rust reads the token: after the 7 bytes of "Bearer ".
    const token = authorization.slice(7);
    // Awaited only for a public-key token whose header was seen: an await costs a microtask turn.
    // Rust uses the verdict, "generation index 1|0", only if it picks that very key for the token.
    const known = knownCheck(token);
    let checked;
    if (known !== undefined) {
      try {
        checked = `${known.generation} ${known.index} ${(await verify(known, token)) ? 1 : 0}`;
      } catch {
        // no verdict: Rust asks for the check, and the usual path makes it
      }
    }
    let answer;
    try {
      answer = take(tenancy.start(url, headers, now, checked));
      for (let steps = 0; answer.io !== undefined; steps++) {
        if (steps === MAX_STEPS) {
          tenancy.abandon(answer.run);
          answer = { error: FAULT };
          break;
        }
        answer = await step(answer, token);
      }
    } catch (error) {
      // Whatever the run did to the key set is unknown: nothing kept is replayed again.
      forget();
      throw error;
    }
    for (const note of answer.notes ?? []) console.error(note);
    if (answer.done !== undefined) {
      const result = deepFreeze({ ok: true, ...answer.done, administrator: answer.admin });
      if (key !== undefined) remember(key.input, result, answer.until, answer.gen);
      return result;
    }
    if (answer.error !== undefined) return failure(answer.error);
    console.error("edge-tenancy: an answer the pipeline does not give; the request is refused");
    return failure(FAULT);
  }

  return {
    [RESOLVE]: resolveNow,

    // Not an async function: returning resolveNow's Promise from one would cost two more
    // microtask turns before the caller's await resumes.
    resolve(request) {
      try {
        return Promise.resolve(resolveNow(request));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}
