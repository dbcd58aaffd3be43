import { describe, expect, it } from "vitest";
import { escapeMdCell, escapeMdCellKeepCode, escapeXml, escapeXmlAttr, fenceFor, stripInvalidXml } from "./escape.js";

describe("escaping", () => {
  it("XML: the five specials, forbidden characters dropped, astral characters kept", () => {
    expect(escapeXml(`a<b>&"c"'d'`)).toBe("a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;");
    expect(stripInvalidXml("a\u0000b\u0008c\td\u001b[1;31me\u001b[0m 🔥 \ud800x")).toBe("abc\tde 🔥 x");
    expect(escapeXmlAttr("one\ntwo")).toBe("one&#10;two");
  });

  it("Markdown cells: pipes, HTML and newlines; code spans kept verbatim", () => {
    expect(escapeMdCell("a | b <i>\nc_d_")).toBe("a \\| b &lt;i&gt;<br>c\\_d\\_");
    expect(escapeMdCellKeepCode("Restart: `kubectl delete pod <p>` if a|b")).toBe("Restart: `kubectl delete pod <p>` if a\\|b");
  });

  it("fences outgrow the longest backtick run", () => {
    expect(fenceFor("plain")).toBe("```");
    expect(fenceFor("x ```` y")).toBe("`````");
  });
});
