// Probe: the cost of one crossing into wasm, per call, inside a request (n calls per request).
import "../../js/load/module.js";
import { Tenancy, parseTenantId } from "../../js/dist/edge_tenancy.js";

let tenancy;
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n"));
    const what = url.searchParams.get("what");
    tenancy ??= new Tenancy(JSON.stringify({
      resolve: { strategies: [{ type: "subdomain", baseDomains: ["example.com"] }, { type: "jwtClaim" }] },
      authenticate: { secrets: [{ secret: env.HS256_SECRET, alg: "HS256", kid: "hs" }], issuer: "bench", cacheTokens: 256 },
    }));
    const headers = `authorization\nBearer ${env.TOKEN}\n`;
    let x = 0;
    if (what === "parse") for (let i = 0; i < n; i++) x += parseTenantId("acme").length;
    if (what === "start") for (let i = 0; i < n; i++) x += tenancy.start(`https://org0.example.com/api/orders/${i}`, headers, Date.now()).length;
    return new Response(String(x));
  },
};
