/**
 * Secrets out of what is printed, logged or reported: the one redaction every package uses, so a
 * URL's password, an admin token or a database password never reaches stdout, an error message, an
 * incident's evidence or a report.
 */

/** What a redacted secret is shown as. */
export const REDACTED = "***";

// scheme://user:password@ — the password runs to the last "@" before a space or "/" (so a password
// with "#" or ":" is covered; a "/" cannot be in a URL's password unencoded).
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s/]*@/gi;

/** A URL with its password replaced by `***` (`postgres://gm:***@host/db`); the user and the rest stay. */
export function redactUrl(url: string): string {
  return redactText(url);
}

/**
 * Text with every URL password replaced by `***`, and every one of `secrets` (values such as an admin
 * token; empty ones ignored) replaced wherever it appears.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(URL_PASSWORD, `$1${REDACTED}@`);
  for (const s of secrets) if (s.length > 0) out = out.split(s).join(REDACTED);
  return out;
}

/** A copy of `value` (plain data: objects, arrays, scalars) with `redactText` applied to every string in it. */
export function redactDeep<T>(value: T, secrets: readonly string[] = []): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return redactText(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
