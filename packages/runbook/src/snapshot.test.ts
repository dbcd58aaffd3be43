import { describe, expect, it } from "vitest";
import { reconcileBrokers } from "./snapshot.js";

const b = (nodeId: number, address: string, up = true) => ({ nodeId, address, up });

describe("reconcileBrokers", () => {
  it("takes a bootstrap address under another host name for the advertised broker, not a broker down", () => {
    // testcontainers inside a container reaches Docker's ports through the bridge gateway, while the
    // broker advertises 127.0.0.1: the same broker, one in the cluster, none down.
    expect(reconcileBrokers([b(1, "127.0.0.1:41001")], ["172.17.0.1:41001"], 1)).toEqual([b(1, "127.0.0.1:41001")]);
  });

  it("names a broker missing from the metadata after the bootstrap address nobody covers", () => {
    const meta = [b(1, "127.0.0.1:41001"), b(3, "127.0.0.1:41003")];
    expect(reconcileBrokers(meta, ["10.0.0.1:41001", "10.0.0.1:41002", "10.0.0.1:41003"], 3)).toEqual([
      ...meta,
      b(-1, "10.0.0.1:41002", false),
    ]);
  });

  it("pads with unknown brokers when a load balancer fronts a cluster that lost members", () => {
    expect(reconcileBrokers([b(1, "k1:9092")], ["kafka.example:9092"], 3)).toEqual([
      b(1, "k1:9092"),
      b(-1, "unknown", false),
      b(-1, "unknown", false),
    ]);
  });

  it("keeps brokers the metadata names beyond those expected, and their state", () => {
    const meta = [b(1, "a:1"), b(2, "b:2", false)];
    expect(reconcileBrokers(meta, ["a:1"], 1)).toEqual(meta);
  });
});
