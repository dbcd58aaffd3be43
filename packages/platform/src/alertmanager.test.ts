import { describe, expect, it } from "vitest";
import { alertsEndpoint, getActiveAlerts } from "./alertmanager.js";

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
    expect(await getActiveAlerts(["http://down:9093", "http://up:9093"], { timeoutMs: 1000, fetch })).toEqual([{ labels: { alertname: "X" } }]);
    expect(asked).toEqual(["http://down:9093/api/v2/alerts?active=true&silenced=false&inhibited=false", "http://up:9093/api/v2/alerts?active=true&silenced=false&inhibited=false"]);
    await expect(getActiveAlerts(["http://down:9093"], { timeoutMs: 1000, fetch })).rejects.toThrow("fetch failed");
  });
});
