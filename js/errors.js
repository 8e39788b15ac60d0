// Errors as the package throws and answers them. Rust reports an error by throwing (or
// rejecting with) the JSON of an ErrorResponse; anything else is a real fault and passes as is.

export class EdgeTenancyError extends Error {
  constructor({ status, code, message, www_authenticate, retry_after }) {
    super(message);
    this.name = "EdgeTenancyError";
    this.status = status;
    this.code = code;
    this.wwwAuthenticate = www_authenticate ?? null;
    // Every 503 says when to come back, as Rust's answers do.
    this.retryAfter = retry_after ?? (status === 503 ? 1 : null);
  }

  // Hono's default error handler answers an error that has getResponse() (its HTTPException's
  // shape) with that response: a refused statement in a route answers 403, not 500.
  getResponse() {
    return this.toResponse();
  }

  toResponse() {
    const headers = { "content-type": "application/json" };
    if (this.wwwAuthenticate) headers["www-authenticate"] = this.wwwAuthenticate;
    if (this.retryAfter !== null) headers["retry-after"] = String(this.retryAfter);
    return new Response(JSON.stringify({ error: { code: this.code, message: this.message } }), {
      status: this.status,
      headers,
    });
  }
}

function rethrow(thrown) {
  if (typeof thrown === "string") throw new EdgeTenancyError(JSON.parse(thrown));
  throw thrown;
}

/** `fn(...args)`, an error Rust throws as an EdgeTenancyError. */
export function call(fn, ...args) {
  try {
    return fn(...args);
  } catch (thrown) {
    rethrow(thrown);
  }
}

/** What a Promise from Rust resolves to, its rejection as an EdgeTenancyError. */
export async function settle(promise) {
  try {
    return await promise;
  } catch (thrown) {
    rethrow(thrown);
  }
}
