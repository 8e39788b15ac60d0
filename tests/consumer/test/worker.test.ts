// A user's tests in workerd through @cloudflare/vitest-plugin: requests to the worker itself.
import { SELF } from "cloudflare:test";
import { expect, test } from "vitest";
import { cases, mismatch, request } from "./cases.ts";

for (const c of await cases()) {
  test(c.name, async () => {
    expect(await mismatch(c, await SELF.fetch(request(c)))).toBeNull();
  });
}
