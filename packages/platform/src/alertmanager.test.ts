import { describe, expect, it } from "vitest";
import { alertsEndpoint, getActiveAlerts, postAlerts, splitCredentials } from "./alertmanager.js";

describe("alertmanager API", () => {
  it("keeps a base URL's path prefix", () => {
    expect(alertsEndpoint("http://am:9093").href).toBe("http://am:9093/api/v2/alerts");
    expect(alertsEndpoint("http://am:9093/prefix").href).toBe("http://am:9093/prefix/api/v2/alerts");
    expect(alertsEndpoint("http://am:9093/prefix/").href).toBe("http://am:9093/prefix/api/v2/alerts");
  });

  it("reads the active alerts of the first Alertmanager that answers", async () => {
    const asked: string[] = [];
    const fetch = (async (url: URL) => {
      asked.push(String(url));
      if (url.hostname === "down") throw new TypeError("fetch failed");
      return new Response(JSON.stringify([{ labels: { alertname: "X" } }]), { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    expect(await getActiveAlerts(["http://down:9093", "http://up:9093"], { timeoutMs: 1000, fetch })).toEqual([
      { labels: { alertname: "X" } },
    ]);
    expect(asked).toEqual([
      "http://down:9093/api/v2/alerts?active=true&silenced=false&inhibited=false",
      "http://up:9093/api/v2/alerts?active=true&silenced=false&inhibited=false",
    ]);
    await expect(getActiveAlerts(["http://down:9093"], { timeoutMs: 1000, fetch })).rejects.toThrow("fetch failed");
  });

  it("sends a URL's credentials as Basic authorization, never in the URL, and quotes neither in an error", async () => {
    const split = splitCredentials(new URL("http://gm%40ops:s3cr3t%23pw@am:9093/p"));
    expect(split.url.href).toBe("http://am:9093/p");
    expect(split.headers).toEqual({ authorization: `Basic ${Buffer.from("gm@ops:s3cr3t#pw").toString("base64")}` });
    expect(splitCredentials(new URL("http://am:9093")).headers).toEqual({});

    const seen: { url: string; auth: string | null }[] = [];
    const fetch = (async (url: URL, init?: RequestInit) => {
      seen.push({ url: String(url), auth: new Headers(init?.headers).get("authorization") });
      if (url.hostname === "down")
        throw new TypeError("fetch failed", { cause: new Error(`connect ECONNREFUSED; tried http://gm:s3cr3tpw@down:9093`) });
      return new Response("[]", { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const basic = `Basic ${Buffer.from("gm:s3cr3tpw").toString("base64")}`;
    expect(await getActiveAlerts(["http://gm:s3cr3tpw@up:9093"], { timeoutMs: 1000, fetch })).toEqual([]);
    const posted = await postAlerts(alertsEndpoint("http://gm:s3cr3tpw@down:9093"), "[]", { timeoutMs: 1000, fetch });
    expect(seen).toEqual([
      { url: "http://up:9093/api/v2/alerts?active=true&silenced=false&inhibited=false", auth: basic },
      { url: "http://down:9093/api/v2/alerts", auth: basic },
    ]);
    expect(posted.ok).toBe(false);
    expect(posted.error).toContain("POST http://down:9093/api/v2/alerts: fetch failed");
    expect(posted.error).not.toContain("s3cr3tpw");
    // and the real fetch, which refuses a URL with credentials quoting it whole
    const real = await postAlerts(new URL("http://gm:s3cr3tpw@127.0.0.1:9/api/v2/alerts"), "[]", { timeoutMs: 1000 });
    expect(real.ok).toBe(false);
    expect(real.error).not.toContain("s3cr3tpw");
  });
});
