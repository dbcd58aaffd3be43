import { describe, expect, it } from "vitest";
import { FAULT_NAMES, parseArgs, parseRange } from "./soak.js";

describe("npm run soak's options", () => {
  it("defaults: 30 minutes, a fault every 60–120 s held 30–50 s, every fault", () => {
    const o = parseArgs([])!;
    expect(o).toMatchObject({ minutes: 30, every: [60, 120], hold: [30, 50], graceSeconds: 90, faults: [...FAULT_NAMES] });
    expect(Number.isInteger(o.seed)).toBe(true);
  });

  it("ranges: N or MIN-MAX within bounds", () => {
    expect(parseRange("90", "every", 10, 3600)).toEqual([90, 90]);
    expect(parseRange("60-120", "every", 10, 3600)).toEqual([60, 120]);
    for (const bad of ["120-60", "abc", "5", "-1", "60-"])
      expect(() => parseRange(bad, "every", 10, 3600)).toThrow(/--every: expected seconds as N or MIN-MAX from 10 to 3600/);
  });

  it("bad input names the option and what was expected", () => {
    expect(() => parseArgs(["--minutes", "abc"])).toThrow(
      "--minutes: expected a number of minutes from 2 to 1440, got something that is not a number",
    );
    expect(() => parseArgs(["--minutes", "1"])).toThrow("--minutes: expected a number of minutes from 2 to 1440, got 1");
    expect(() => parseArgs(["--hold", "70", "--every", "60-90"])).toThrow(
      "--hold: a fault must be undone before the next is due: expected at most 59 s",
    );
    expect(() => parseArgs(["--faults", "kill-broker,nope"])).toThrow("--faults: expected names among kill-broker, kill-broker-majority");
    expect(() => parseArgs(["--load-rate", "0"])).toThrow("--load-rate: expected a number from 0.1 to 100, got 0");
    expect(() => parseArgs(["--seed", "1.5"])).toThrow("--seed: expected an integer, got 1.5");
    expect(() => parseArgs(["--what"])).toThrow(/Unknown argument: what/);
  });
});
