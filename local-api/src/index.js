// The local Cloudflare API's entry: every call goes to the account's Durable Object; answers it
// marks to be dropped or slowed (after the work was done) are dropped or slowed here.
export { LocalAccount } from "./account.js";
export { LocalDatabase } from "./database.js";

/**
 * A body that breaks off part-way, as a reset connection does. It promises more bytes than it
 * sends, so that over real HTTP too the reader sees a failure rather than a short body.
 */
function droppedBody() {
  const { readable, writable } = new FixedLengthStream(4096);
  const writer = writable.getWriter();
  writer
    .write(new TextEncoder().encode('{"success":tr'))
    .then(() => writer.abort(new Error("connection reset by the local API's drop fault")))
    .catch(() => {});
  return readable;
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (!pathname.startsWith("/client/v4/") && !pathname.startsWith("/__local/")) {
      return Response.json(
        { success: false, errors: [{ code: 7000, message: "No route for that URI" }], messages: [], result: null },
        { status: 400 },
      );
    }
    const account = env.ACCOUNT.get(env.ACCOUNT.idFromName(env.LOCAL_ACCOUNT_ID));
    const answer = await account.fetch(request);
    const after = answer.headers.get("x-local-after");
    if (!after) return answer;
    const headers = new Headers(answer.headers);
    headers.delete("x-local-after");
    if (after === "drop") {
      // `identity` keeps miniflare's front worker from re-compressing the body, which would turn
      // the cut into a clean, short answer.
      headers.set("content-encoding", "identity");
      return new Response(droppedBody(), { status: answer.status, headers, encodeBody: "manual" });
    }
    await new Promise((resolve) => setTimeout(resolve, Number(after.slice("slow:".length))));
    return new Response(answer.body, { status: answer.status, headers });
  },
};
