import { describe, expect, it } from "vitest";
import { findK6, parseK6Acks } from "./k6.js";

describe("k6 load adapter", () => {
  it("reads acknowledged ids from k6's JSON console lines and ignores the rest", () => {
    const line = JSON.stringify({
      level: "info",
      msg: JSON.stringify({ ack: ["a-1", "a-2"] }),
      source: "console",
      time: "2026-11-27T05:00:00Z",
    });
    expect(parseK6Acks(line)).toEqual(["a-1", "a-2"]);
    expect(parseK6Acks(JSON.stringify({ level: "warn", msg: "Request Failed", error: "EOF" }))).toEqual([]);
    expect(parseK6Acks("not json")).toEqual([]);
  });

  it("finds k6 only where an executable is", () => {
    expect(findK6({ GM_K6_BIN: "/nonexistent/k6", PATH: "/nonexistent" })).toBeNull();
    expect(findK6({ GM_K6_BIN: process.execPath, PATH: "" })).toBe(process.execPath);
  });
});
