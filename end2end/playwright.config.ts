import { defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// scripts/test.sh builds the server and the site, then sets these.
const bin = process.env.CIPHERFOLD_BIN;
if (!bin) throw new Error("CIPHERFOLD_BIN is not set: run the tests through scripts/test.sh");
const port = Number(process.env.CIPHERFOLD_E2E_PORT ?? 3457);
// Made once by the runner; its workers inherit the variable, so tests can inspect the server's files.
const dataDir = (process.env.CIPHERFOLD_E2E_DATA_DIR ??= mkdtempSync(join(tmpdir(), "cipherfold-e2e-")));
export const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: {
    command: `"${bin}" serve --addr 127.0.0.1:${port} --data-dir "${dataDir}"`,
    url: `${baseURL}/api/health`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
  },
});
