/** Which names the cluster DNS override answers, and its refusals (the lookups themselves: the drills on a real node). */
import dns from "node:dns";
import { describe, expect, it } from "vitest";
import { clusterQueryName, useClusterDns } from "./cluster-dns.js";

describe("clusterQueryName", () => {
  it("completes a .svc name with the cluster domain and keeps full names", () => {
    expect(clusterQueryName("kafka-0.kafka-headless.kafka.svc")).toBe("kafka-0.kafka-headless.kafka.svc.cluster.local");
    expect(clusterQueryName("postgres.gamemetrics.svc.cluster.local")).toBe("postgres.gamemetrics.svc.cluster.local");
    expect(clusterQueryName("Ingest-API.gamemetrics.SVC.")).toBe("ingest-api.gamemetrics.svc.cluster.local");
    expect(clusterQueryName("x.svc", "corp.internal")).toBe("x.svc.corp.internal");
  });
  it("leaves every other name, and addresses, to the system resolver", () => {
    for (const h of ["localhost", "127.0.0.1", "::1", "example.com", "svc", "my.svc.example.com"]) expect(clusterQueryName(h)).toBeNull();
  });
});

describe("useClusterDns", () => {
  it("refuses a server that is not an IP address, naming it", () => {
    expect(() => useClusterDns({ server: "coredns" })).toThrow(/cluster DNS server: "coredns" is not an IP address/);
  });
  it("replaces dns.lookup until restored; another server is refused, the same one shared", () => {
    const original = dns.lookup;
    const d = useClusterDns({ server: "127.0.0.1" });
    try {
      expect(dns.lookup).not.toBe(original);
      expect(() => useClusterDns({ server: "127.0.0.2" })).toThrow(/already set to 127.0.0.1/);
      const again = useClusterDns({ server: "127.0.0.1" });
      again.restore();
      expect(dns.lookup).not.toBe(original);
    } finally {
      d.restore();
      d.restore();
    }
    expect(dns.lookup).toBe(original);
  });
  it("passes names outside the cluster to the original lookup", async () => {
    const d = useClusterDns({ server: "127.0.0.1" });
    try {
      const address = await new Promise<string>((res, rej) => dns.lookup("localhost", (err, a) => (err ? rej(err) : res(a))));
      expect(address).toMatch(/^(127\.0\.0\.1|::1)$/);
    } finally {
      d.restore();
    }
  });
});
