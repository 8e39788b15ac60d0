// The npm package with nothing around it, for specs that need to steer it: its clock
// (`/__clock?advance=ms`), a configuration tried at creation (`POST /__config`), and the
// pipeline's answer for any other request, configured by the TENANCY_CONFIG binding.
import { createTenancy } from "edge-tenancy";

let offset = 0;
const clock = () => Date.now() + offset;
let tenancy;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/__clock") {
      offset += Number(url.searchParams.get("advance") ?? 0);
      return Response.json({ offset });
    }
    if (url.pathname === "/__config") {
      try {
        createTenancy(await request.json());
        return Response.json({ ok: true });
      } catch (error) {
        return Response.json({ name: error.name, message: error.message }, { status: 400 });
      }
    }
    tenancy ??= createTenancy(JSON.parse(env.TENANCY_CONFIG), { clock });
    const result = await tenancy.resolve(request);
    return result.ok ? Response.json(result) : result.response;
  },
};
