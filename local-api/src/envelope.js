// The envelope every Cloudflare API answer comes in, and the errors the real API sends.

const JSON_TYPE = { "content-type": "application/json" };

export function ok(result, resultInfo, status = 200) {
  const body = { success: true, errors: [], messages: [], result };
  if (resultInfo) body.result_info = resultInfo;
  return new Response(JSON.stringify(body), { status, headers: JSON_TYPE });
}

export function fail(status, code, message, headers = {}) {
  const body = { success: false, errors: [{ code, message }], messages: [], result: null };
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_TYPE, ...headers } });
}

/** An error the request handlers throw; `toResponse` gives the envelope. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
  toResponse() {
    return fail(this.status, this.code, this.message);
  }
}

export const malformed = (why = "The request is malformed") => new ApiError(400, 7400, why);
export const notFound = (id) => new ApiError(404, 7404, `The database ${id} could not be found`);

/** The page Cloudflare's edge sends on a 502/503, not an envelope. */
export function htmlError(status) {
  const page = `<!DOCTYPE html><html><head><title>${status} | api.cloudflare.com</title></head><body><h1>Error ${status}</h1><p>The server encountered a temporary error.</p></body></html>`;
  return new Response(page, { status, headers: { "content-type": "text/html; charset=UTF-8" } });
}
