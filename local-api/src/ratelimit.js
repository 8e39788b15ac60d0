// The global rate limit as the real API applies it: N requests per window per token, and past it
// a lockout in which every call gets 429 until the window has passed.

export class RateWindow {
  constructor(limit = 1200, windowSeconds = 300) {
    this.configure(limit, windowSeconds);
  }

  configure(limit, windowSeconds) {
    this.limit = limit;
    this.windowMs = windowSeconds * 1000;
    this.sent = [];
    this.lockedUntil = 0;
  }

  /** Counts a request at `now`; returns the 429's retry-after in seconds, or 0 if it may pass. */
  take(now) {
    this.sent = this.sent.filter((t) => t + this.windowMs > now);
    if (now < this.lockedUntil) return Math.ceil((this.lockedUntil - now) / 1000);
    if (this.sent.length >= this.limit) {
      this.lockedUntil = now + this.windowMs;
      return Math.ceil(this.windowMs / 1000);
    }
    this.sent.push(now);
    return 0;
  }

  /** The `Ratelimit` and `Ratelimit-Policy` headers at `now`. */
  headers(now) {
    const remaining = now < this.lockedUntil ? 0 : Math.max(0, this.limit - this.sent.length);
    const oldest = this.sent[0] ?? now;
    const reset = Math.ceil(Math.max(this.lockedUntil, oldest + this.windowMs) - now) / 1000;
    return {
      ratelimit: `"default";r=${remaining};t=${Math.max(0, Math.ceil(reset))}`,
      "ratelimit-policy": `"default";q=${this.limit};w=${this.windowMs / 1000}`,
    };
  }
}
