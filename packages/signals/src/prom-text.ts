/** A parser for the Prometheus text exposition format (what the services' /metrics return). */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const l of m[3].matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    }
    const v = m[4]!;
    const value = v === "+Inf" ? Number.POSITIVE_INFINITY : v === "-Inf" ? Number.NEGATIVE_INFINITY : Number(v);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Sum of every sample of `name` whose labels match `where` (a predicate). */
export function sum(samples: Sample[], name: string, where: (labels: Record<string, string>) => boolean = () => true): number {
  let total = 0;
  for (const s of samples) if (s.name === name && where(s.labels)) total += s.value;
  return total;
}

/** The value of the first sample of `name`, or null. */
export function first(samples: Sample[], name: string): number | null {
  return samples.find((s) => s.name === name)?.value ?? null;
}
