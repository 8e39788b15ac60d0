#!/usr/bin/env node
// Prints a control-plane administrator token for the local demo: HS256, signed with the dev-only
// secret in wrangler.toml's TENANCY_CONFIG, for tenant "main" with scope "tenants:admin", valid
// for an hour. Usage: ADMIN=$(node scripts/admin-token.mjs) [--tenant acme] [--scope "a b"]
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    tenant: { type: "string", default: "main" },
    scope: { type: "string", default: "tenants:admin" },
    "ttl-secs": { type: "string", default: "3600" },
  },
});
const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
const config = JSON.parse(toml.match(/TENANCY_CONFIG = '''([\s\S]*?)'''/)[1]);
const { secrets, issuer } = config.authenticate;
const b64url = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
const now = Math.floor(Date.now() / 1000);
const claims = { tenant: values.tenant, scope: values.scope, iss: issuer, iat: now, exp: now + Number(values["ttl-secs"]) };
const input = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(claims)}`;
const signature = createHmac("sha256", secrets[0].secret).update(input).digest("base64url");
console.log(`${input}.${signature}`);
