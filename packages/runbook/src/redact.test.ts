import { describe, expect, it } from "vitest";
import { redactDeep, redactText, redactUrl } from "./redact.js";

describe("redaction", () => {
  it("replaces a URL's password, keeping user, host and path", () => {
    expect(redactUrl("postgres://gm:s3cret@127.0.0.1:5432/gamemetrics")).toBe("postgres://gm:***@127.0.0.1:5432/gamemetrics");
    expect(redactUrl("http://user:pass@host:8080/health")).toBe("http://user:***@host:8080/health");
  });

  it("covers passwords with # and : in them, and URLs inside longer text", () => {
    const text = 'services.stats-api[0]: expected a URL, got "postgres://gm:pa#ss:w@rd@db/x" and http://a:b@c';
    const out = redactText(text);
    for (const secret of ["pa#ss", "w@rd", ":b@"]) expect(out).not.toContain(secret);
    expect(out).toContain("postgres://gm:***@db/x");
    expect(out).toContain("http://a:***@c");
  });

  it("leaves URLs without a password alone (a port is not a password)", () => {
    for (const s of ["http://127.0.0.1:8080/a@b", "http://host/x", "kafka at 127.0.0.1:9092", "postgres://gm@db/x"])
      expect(redactText(s)).toBe(s);
  });

  it("replaces named secrets anywhere, in nested data too", () => {
    const data = {
      adminToken: "tok-0123456789abcdef",
      nested: [{ url: "postgres://gm:pw@h/db", note: "token tok-0123456789abcdef" }],
      n: 3,
    };
    const out = redactDeep(data, ["tok-0123456789abcdef", ""]);
    expect(JSON.stringify(out)).not.toContain("tok-0123456789abcdef");
    expect(JSON.stringify(out)).not.toContain(":pw@");
    expect(out.n).toBe(3);
    expect(data.adminToken).toBe("tok-0123456789abcdef"); // a copy
  });
});
