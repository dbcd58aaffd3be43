import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The image's entry point, as built by `npm run build`.
const main = fileURLToPath(new URL("../image/app/main.mjs", import.meta.url));

describe("service start-up with a bad environment", () => {
  it("stops with exit code 78 and a message naming each bad variable", () => {
    const r = spawnSync(process.execPath, [main], {
      encoding: "utf8",
      env: { PATH: process.env["PATH"], SERVICE: "stats-api", PORT: "eighty", DATABASE_URL: "mysql://x", ADMIN_TOKEN: "0123456789abcdef" },
      timeout: 20_000,
    });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('PORT: expected an integer between 1 and 65535, got "eighty"');
    expect(r.stderr).toContain("DATABASE_URL: expected a postgres: or postgresql: URL");
  });

  it("refuses an unknown service name", () => {
    const r = spawnSync(process.execPath, [main, "billing-api"], { encoding: "utf8", env: { PATH: process.env["PATH"] }, timeout: 20_000 });
    expect(r.status).toBe(78);
    expect(r.stderr).toMatch(/SERVICE: expected one of ingest-api, event-processor-service, stats-api, got "billing-api"/);
  });
});
