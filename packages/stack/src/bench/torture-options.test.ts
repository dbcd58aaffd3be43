/** The options of `npm run torture:platform`: defaults, and each bad value refused by name. */
import { describe, expect, it } from "vitest";
import { PHASES, parseTortureArgs, TortureOptionError } from "./torture-options.js";

describe("parseTortureArgs", () => {
  it("defaults to every phase and the issue's durations", () => {
    const o = parseTortureArgs([]);
    expect(o).toMatchObject({
      phases: [...PHASES],
      restartMinutes: 5,
      restartIntervalSeconds: 20,
      restartSignal: "kill",
      partitionBroker: "controller",
      partitionSeconds: 30,
      processors: 2,
    });
  });

  it("takes shorter durations and a subset of phases, kept in the documented order", () => {
    const o = parseTortureArgs(["--restart-minutes", "0.5", "--phases", "redelivery,broker-restarts", "--partition-broker", "2"]);
    expect(o).toMatchObject({ restartMinutes: 0.5, phases: ["broker-restarts", "redelivery"], partitionBroker: 2 });
    expect(parseTortureArgs(["-h"])).toBe("help");
  });

  it.each([
    [["--restart-minutes", "abc"], '--restart-minutes: expected a number from 0.1 to 120, got "abc"'],
    [["--restart-minutes", ""], '--restart-minutes: expected a number from 0.1 to 120, got ""'],
    [["--processor-kills", "1.5"], '--processor-kills: expected an integer from 1 to 20, got "1.5"'],
    [["--rate", "NaN"], '--rate: expected a number from 1 to 5000, got "NaN"'],
    [["--partition-broker", "4"], '--partition-broker: expected an integer from 1 to 3, got "4"'],
    [["--restart-signal", "hup"], '--restart-signal: expected kill or term, got "hup"'],
    [["--phases", "partition,reboot"], "--phases: expected a comma-separated list of"],
    [["--stack-id", "../x"], '--stack-id: expected lower-case letters, digits and dashes (at most 31), got "../x"'],
    [["--processors", "1"], "--processors: expected at least 2 for the redelivery phase"],
    [["--nope"], "Unknown option '--nope'"],
  ])("refuses %j naming the option", (argv, message) => {
    expect(() => parseTortureArgs(argv)).toThrow(TortureOptionError);
    expect(() => parseTortureArgs(argv)).toThrow(message);
  });

  it("allows one processor when the redelivery phase is not run", () => {
    expect(parseTortureArgs(["--processors", "1", "--phases", "partition"])).toMatchObject({ processors: 1 });
  });
});
