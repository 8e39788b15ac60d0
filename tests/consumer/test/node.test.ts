// A user's unit tests in Node 22 (node:test), calling the app's handlers without a runtime.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import app from "../src/index.ts";
import { cases, mismatch, request } from "./cases.ts";

const env = JSON.parse(readFileSync(new URL("../wrangler.json", import.meta.url), "utf8")).vars;
for (const c of await cases()) {
  test(c.name, async () => {
    assert.equal(await mismatch(c, await app.fetch(request(c), env)), null);
  });
}
