// Wraps a benchmark worker for bench/in-process.mjs: `GET /loop?shape=<name>&n=<count>` runs the
// app `n` times in this one request over the shape's pre-built requests (TRAFFIC: the URL and the
// user of each, in the wrk script's order; TOKENS: the users' tokens), with no HTTP in between, and
// answers how many got 200. Any other request goes to the app, so the answers can be checked
// first. What the driver times is then the app alone: routing, middleware, handler, Response
// (whose body is not read: serving writes it out natively).
export function inProcess(app) {
  const built = new Map(); // shape → Requests
  return {
    async fetch(request, env, ctx) {
      const url = new URL(request.url);
      if (url.pathname !== "/loop") return app.fetch(request, env, ctx);
      const shape = url.searchParams.get("shape");
      let requests = built.get(shape);
      if (requests === undefined) {
        const tokens = JSON.parse(env.TOKENS);
        const traffic = JSON.parse(env.TRAFFIC)[shape];
        requests = traffic.map(([href, user]) => new Request(href, { headers: { authorization: `Bearer ${tokens[user]}` } }));
        built.set(shape, requests);
      }
      const n = Number(url.searchParams.get("n"));
      let ok = 0;
      for (let i = 0; i < n; i++) {
        const response = await app.fetch(requests[i % requests.length], env, ctx);
        if (response.status === 200) ok++;
      }
      return Response.json({ ok });
    },
  };
}
