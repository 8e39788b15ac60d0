// For bench/first-sight.mjs: `GET /step?step=<name>&n=<count>` runs one part of a first sight of
// a public-key token (algorithm ALG) `n` times over the users' tokens (TOKENS), in this one request:
// WebCrypto's signature check alone, jose's jwtVerify, edge-tenancy's resolve with caches off,
// and its one call into wasm with the signature's verdict given (what resolve adds to the check).
import { createTenancy } from "edge-tenancy";
import { Tenancy } from "../../js/dist/edge_tenancy.js";
import { importJWK, jwtVerify } from "jose";
import { hostOf, pathOf, ISSUER } from "../traffic.mjs";

const WEBCRYPTO = { EdDSA: { name: "Ed25519" }, ES256: { name: "ECDSA", hash: "SHA-256" }, RS256: { name: "RSASSA-PKCS1-v1_5" } };

async function setup(env) {
  const alg = env.ALG;
  const jwk = JSON.parse(env.JWKS).keys.find((k) => k.alg === alg);
  const tokens = JSON.parse(env.TOKENS);
  const config = {
    resolve: { strategies: [{ type: "subdomain", baseDomains: ["example.com"] }, { type: "jwtClaim" }] },
    authenticate: { keys: [jwk], issuer: ISSUER, cacheTokens: 0 },
  };
  const tenancy = createTenancy(config);
  const pipeline = new Tenancy(JSON.stringify(config));
  const key = await importJWK(jwk, alg);
  const users = tokens.map((token, user) => {
    const dot = token.lastIndexOf(".");
    const url = `https://${hostOf(user)}${pathOf(user)}`;
    return {
      token,
      url,
      headers: `authorization\nBearer ${token}\n`,
      request: new Request(url, { headers: { authorization: `Bearer ${token}` } }),
      signature: Uint8Array.fromBase64(token.slice(dot + 1), { alphabet: "base64url" }),
      signed: new TextEncoder().encode(token.slice(0, dot)),
    };
  });
  // The verdict the pipeline takes: it names the key it asks to check tokens with.
  const { check } = JSON.parse(pipeline.start(users[0].url, users[0].headers, Date.now(), undefined)).io;
  const verdict = `${check.generation} ${check.index} 1`;
  const steps = {
    webcrypto: async (u) => crypto.subtle.verify(WEBCRYPTO[alg], key, u.signature, u.signed),
    jose: async (u) => (await jwtVerify(u.token, key, { issuer: ISSUER, algorithms: [alg] })).payload.tenant !== undefined,
    resolve: async (u) => (await tenancy.resolve(u.request)).ok,
    wasm: async (u) => JSON.parse(pipeline.start(u.url, u.headers, Date.now(), verdict)).done !== undefined,
  };
  return { users, steps };
}

let state;
export default {
  async fetch(request, env) {
    state ??= await setup(env);
    const url = new URL(request.url);
    const step = state.steps[url.searchParams.get("step")];
    if (step === undefined) return new Response("ready");
    const n = Number(url.searchParams.get("n"));
    let ok = 0;
    for (let i = 0; i < n; i++) if (await step(state.users[i % state.users.length])) ok++;
    return Response.json({ ok });
  },
};
