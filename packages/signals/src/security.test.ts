import { describe, expect, it } from "vitest";
import { checkSecurity } from "./security.js";

const answering = (status: number) => (async () => new Response(null, { status })) as unknown as typeof fetch;
const check = (status: number) =>
  checkSecurity({
    protectedEndpoints: [{ method: "DELETE", url: "http://stats/admin/players/x" }],
    publicEndpoints: [],
    secrets: {},
    timeoutMs: 1_000,
    fetch: answering(status),
  });

describe("protected endpoints", () => {
  it("401 or 403 without credentials: closed", async () => {
    for (const s of [401, 403]) expect((await check(s)).checks[0]).toMatchObject({ ok: true, observed: `HTTP ${s}` });
  });

  it("a 2xx, a redirect or a 404 (past the authentication to the handler): open, the runbook's security P0", async () => {
    for (const s of [200, 204, 302, 404]) expect((await check(s)).checks[0]).toMatchObject({ ok: false, observed: `HTTP ${s}` });
  });

  it("a 5xx is no answer, not an open door: the proxy or load balancer in front of a service that is down (availability is judged elsewhere)", async () => {
    // The soak's memory-limit fault OOM-killed stats-api; its proxy answered 502 and the prober paged
    // security-exposure P0 beside service-down P0. An ingress in front of a dead pod answers 502/503 too.
    for (const s of [500, 502, 503, 504])
      expect((await check(s)).checks[0]).toMatchObject({ ok: true, observed: expect.stringContaining(`HTTP ${s}`) });
  });
});
