// Type tests, checked by `tsc --noEmit` in the test command: what must and must not compile.
import { EdgeTenancyError, isTenantId, parseTenantId, version, type TenantId } from "edge-tenancy";

const id: TenantId = parseTenantId("acme");
const asString: string = id;
const v: string = version;

// @ts-expect-error a plain string is not a TenantId until it is parsed
const unchecked: TenantId = "acme";

const input: unknown = "beta";
if (isTenantId(input)) {
  const narrowed: TenantId = input;
  void narrowed;
}

function handle(e: unknown): Response | undefined {
  if (e instanceof EdgeTenancyError) {
    const status: number = e.status;
    const code: string = e.code;
    void status, code;
    return e.toResponse();
  }
  return undefined;
}

// @ts-expect-error parseTenantId takes a string
parseTenantId(42);

void asString, v, unchecked, handle;
