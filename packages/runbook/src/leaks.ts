/**
 * Finds configured secrets in what the tools wrote: the check behind "no secret in any log line, report,
 * JUnit file, /metrics or --json output" (the game-day test and `npm run security` grep every artifact
 * with it). A secret is looked for as written and in the forms the artifacts would carry it in: URL-encoded
 * (a password in a URL), JSON-escaped (a JSON report or log line), XML/HTML-escaped (JUnit, report.html).
 * The counterpart of redact.ts: that one removes secrets, this one proves none is left.
 */

/** A configured secret: its name (never printed with its value) and its value. */
export interface Secret {
  name: string;
  value: string;
}

/** Something the tools wrote: a file, a stream of log lines, an HTTP body. */
export interface Artifact {
  /** where it came from: a path, "progress lines", "prober /metrics" */
  name: string;
  text: string;
}

/** One place where a secret was found. */
export interface Leak {
  secret: string;
  artifact: string;
  /** 1-based line in the artifact */
  line: number;
  /** the form it was found in: raw, url-encoded, json-escaped, xml-escaped */
  form: string;
  /** the line around it, with the secret replaced by its name in angle brackets */
  excerpt: string;
}

/** Shorter values cannot be searched for without finding them by chance in unrelated text. */
export const MIN_SECRET_LENGTH = 8;

/** The forms of `value` an artifact could carry it in (each distinct form once). */
export function secretForms(value: string): { form: string; text: string }[] {
  const xml = value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  const forms = [
    { form: "raw", text: value },
    { form: "url-encoded", text: encodeURIComponent(value) },
    { form: "json-escaped", text: JSON.stringify(value).slice(1, -1) },
    { form: "xml-escaped", text: xml },
  ];
  return forms.filter((f, i) => forms.findIndex((g) => g.text === f.text) === i);
}

/**
 * Every occurrence of every secret in every artifact, in any of its forms. Throws when a secret is too
 * short to be searched for (a check that cannot find a leak must not pass); empty values are skipped.
 */
export function findLeaks(artifacts: readonly Artifact[], secrets: readonly Secret[]): Leak[] {
  const wanted = secrets.filter((s) => s.value.length > 0);
  for (const s of wanted) {
    if (s.value.length < MIN_SECRET_LENGTH)
      throw new Error(`secret ${s.name}: expected at least ${MIN_SECRET_LENGTH} characters to search for, got ${s.value.length}`);
  }
  const leaks: Leak[] = [];
  for (const a of artifacts) {
    const lines = a.text.split("\n");
    for (const s of wanted) {
      const forms = secretForms(s.value);
      lines.forEach((text, i) => {
        for (const f of forms) {
          if (!text.includes(f.text)) continue;
          let excerpt = text;
          for (const g of forms) excerpt = excerpt.split(g.text).join(`<${s.name}>`);
          const at = excerpt.indexOf(`<${s.name}>`);
          const from = Math.max(0, at - 100);
          const to = Math.min(excerpt.length, at + s.name.length + 102);
          leaks.push({
            secret: s.name,
            artifact: a.name,
            line: i + 1,
            form: f.form,
            excerpt: `${from > 0 ? "…" : ""}${excerpt.slice(from, to)}${to < excerpt.length ? "…" : ""}`,
          });
          break;
        }
      });
    }
  }
  return leaks;
}

/** One line per leak, naming the secret and where it is (never its value): for a test's failure message. */
export function describeLeaks(leaks: readonly Leak[]): string {
  return leaks.map((l) => `${l.secret} (${l.form}) in ${l.artifact}:${l.line}: ${l.excerpt}`).join("\n");
}
