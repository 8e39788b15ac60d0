// The traffic the benchmark sends: N users' tokens over M paths, each user bound to one of a few
// tenants and calling on that tenant's host, as real clients do. Tokens are signed here with jose
// (an implementation nobody here wrote), for HS256 and the three public-key algorithms.
import * as jose from "jose";

export const ALGS = ["HS256", "EdDSA", "ES256", "RS256"];
export const HS256_SECRET = "bench secret: thirty-two bytes or more!";
export const ISSUER = "bench";
export const BASE_DOMAIN = "example.com";
// Users are spread over this many tenants (fewer when there are fewer users).
const TENANTS = 10;

// The traffic shapes: users × paths. The first is the default, the others the two extremes.
export const SHAPES = [
  { name: "100 users x 1000 paths", users: 100, paths: 1000 },
  { name: "1 user x 1000 paths", users: 1, paths: 1000 },
  { name: "1 user x 1 path", users: 1, paths: 1 },
];

export const tenantOf = (user) => `org${user % TENANTS}`;
export const hostOf = (user) => `${tenantOf(user)}.${BASE_DOMAIN}`;
export const pathOf = (index) => `/api/orders/${index}`;

// The key material: one key pair per public-key algorithm (published as a JWKS, `kid` = alg) and
// the HS256 secret (`kid` = "hs").
export async function keyMaterial() {
  const pairs = {};
  for (const alg of ALGS.slice(1)) {
    pairs[alg] = await jose.generateKeyPair(alg, { crv: alg === "EdDSA" ? "Ed25519" : undefined, extractable: true });
  }
  const jwks = {
    keys: await Promise.all(ALGS.slice(1).map(async (alg) => ({ ...(await jose.exportJWK(pairs[alg].publicKey)), kid: alg, alg }))),
  };
  const signingKey = (alg) => (alg === "HS256" ? new TextEncoder().encode(HS256_SECRET) : pairs[alg].privateKey);
  const sign = (alg, claims) =>
    new jose.SignJWT(claims)
      .setProtectedHeader({ alg, kid: alg === "HS256" ? "hs" : alg })
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime("2h")
      .sign(signingKey(alg));
  return { jwks, sign };
}

// `count` users' tokens for `alg`: user u is `user-u`, bound to tenantOf(u).
export async function userTokens(sign, alg, count) {
  const tokens = [];
  for (let user = 0; user < count; user++) {
    tokens.push(await sign(alg, { sub: `user-${user}`, tenant: tenantOf(user), scope: "read write" }));
  }
  return tokens;
}

// A wrk script sending `shape`'s traffic with `tokens`: every request picks a user and a path at
// random (seeded, so every variant gets the same sequence), on the user's tenant host.
export function wrkScript(shape, tokens) {
  const users = tokens.slice(0, shape.users);
  const lua = (s) => JSON.stringify(s); // JSON strings of ASCII are valid Lua strings
  return `-- ${shape.name}
local tokens = { ${users.map((t) => lua(`Bearer ${t}`)).join(", ")} }
local hosts = { ${users.map((_, u) => lua(hostOf(u))).join(", ")} }
local paths = ${shape.paths}
math.randomseed(20261130)
request = function()
  local u = math.random(#tokens)
  local p = math.random(paths) - 1
  return wrk.format("GET", "/api/orders/" .. p, { ["Host"] = hosts[u], ["Authorization"] = tokens[u] })
end
`;
}

// `count` requests of `shape` as [URL, user] pairs for the benchmarks that build their requests
// themselves (in-process.mjs, node-loop.mjs): users and paths at random (a seeded LCG: the same
// sequence for every variant), each user on its tenant's host.
export function requestList(shape, count = 1024) {
  let seed = 20261130;
  const random = (n) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  return Array.from({ length: count }, () => {
    const user = random(shape.users);
    return [`https://${hostOf(user)}${pathOf(random(shape.paths))}`, user];
  });
}
