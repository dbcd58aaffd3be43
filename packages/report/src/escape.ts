/** Escaping shared by the XML-family renderers (JUnit, SVG, HTML) and the Markdown one. */

/**
 * True for code points XML 1.0 forbids (https://www.w3.org/TR/xml/#charsets): C0 controls other than
 * tab, LF and CR (ANSI colour codes in command output are the usual culprit), lone surrogates, U+FFFE/F.
 */
function forbiddenInXml(code: number): boolean {
  return (
    (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) ||
    (code >= 0xd800 && code <= 0xdfff) ||
    code === 0xfffe ||
    code === 0xffff
  );
}

// ANSI CSI sequences (colours, cursor moves) as written by CLIs to a terminal: ESC [ params final-byte.
// Built from a string so the regex literal holds no control character.
const ANSI_CSI = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;?]*[ -/]*[@-~]`, "g");

/** Removes ANSI colour/cursor sequences, then characters no XML document may contain (keeping well-formed surrogate pairs). */
export function stripInvalidXml(text: string): string {
  let out = "";
  for (const ch of text.replace(ANSI_CSI, "")) {
    // for…of yields whole code points, so a valid pair arrives as one 2-unit string.
    const code = ch.codePointAt(0) ?? 0;
    if (ch.length === 1 && forbiddenInXml(code)) continue;
    out += ch;
  }
  return out;
}

/** Escapes text for XML/HTML element content and attribute values (either quote style). */
export function escapeXml(text: string): string {
  return stripInvalidXml(text).replace(/[&<>"']/g, (c) => XML_ENTITIES[c] ?? c);
}

/** Like escapeXml, and keeps line breaks in an attribute (a literal newline would be normalised to a space). */
export function escapeXmlAttr(text: string): string {
  return escapeXml(text).replace(/\r/g, "&#13;").replace(/\n/g, "&#10;").replace(/\t/g, "&#9;");
}

const XML_ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

/** Makes text safe in a GitHub Markdown table cell: no pipes, no raw HTML, one line. */
export function escapeMdCell(text: string): string {
  return escapeMdInline(text).replace(/\|/g, "\\|").replace(/\r?\n/g, "<br>");
}

/** Makes text safe as inline Markdown: no raw HTML, no accidental emphasis or links. */
export function escapeMdInline(text: string): string {
  return stripInvalidXml(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/([\\`*_[\]])/g, "\\$1");
}

/**
 * For runbook text that uses `code spans` on purpose: code spans are kept (entities would show
 * literally inside them), the rest is escaped as by escapeMdCell.
 */
export function escapeMdCellKeepCode(text: string): string {
  return stripInvalidXml(text)
    .split(/(`[^`\n]+`)/)
    .map((part, i) => (i % 2 === 1 ? part.replace(/\|/g, "\\|") : escapeMdCell(part)))
    .join("");
}

/** A code fence longer than any backtick run in `text`, so the text cannot close it. */
export function fenceFor(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return "`".repeat(Math.max(3, longest + 1));
}
