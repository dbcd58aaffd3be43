/**
 * fast-check's seed for the property tests: fixed by default, so the test command (and CI) gives the
 * same verdict on every run and a failure can be replayed; `FC_SEED=random` explores new cases
 * (the seed is printed with any counterexample), `FC_SEED=<n>` replays one.
 */
import fc from "fast-check";

const raw = process.env["FC_SEED"] ?? "20261203";
if (raw !== "random") {
  const seed = Number(raw);
  if (!Number.isInteger(seed)) throw new Error(`FC_SEED: expected an integer or "random", got ${JSON.stringify(raw)}`);
  fc.configureGlobal({ seed });
}
