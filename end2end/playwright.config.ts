import { defineConfig } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// scripts/test.sh builds the server and the site, then sets these.
const bin = process.env.CIPHERFOLD_BIN;
if (!bin) throw new Error("CIPHERFOLD_BIN is not set: run the tests through scripts/test.sh");
const port = Number(process.env.CIPHERFOLD_E2E_PORT ?? 3457);
// Made once by the runner; its workers inherit the variable, so tests can inspect the server's files.
const dataDir = (process.env.CIPHERFOLD_E2E_DATA_DIR ??= mkdtempSync(join(tmpdir(), "cipherfold-e2e-")));
export const baseURL = `http://127.0.0.1:${port}`;

// A second server on the next port speaks HTTPS itself (--tls-cert, HTTP/2) with a self-signed
// certificate made here by Python's `cryptography`; the "tls" project runs the tests that
// matter over it once (the walk-through, and the upload that streams over HTTP/2).
const tlsPort = port + 1;
export const tlsURL = `https://127.0.0.1:${tlsPort}`;
const tlsDataDir = (process.env.CIPHERFOLD_E2E_TLS_DATA_DIR ??= mkdtempSync(join(tmpdir(), "cipherfold-e2e-tls-")));
const tlsCert = join(tlsDataDir, "cert.pem");
const tlsKey = join(tlsDataDir, "key.pem");
if (!existsSync(tlsCert)) {
  execFileSync(process.env.CIPHERFOLD_PYTHON ?? "python3", [join(__dirname, "tests/self_signed.py"), tlsCert, tlsKey]);
}

export const launchOptions = {
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
};

// ignoreHTTPSErrors covers pages and fetches; a service worker's script is fetched outside
// it, so a browser that meets the self-signed certificate is told to accept it itself.
export const tlsLaunchOptions = { ...launchOptions, args: [...launchOptions.args, "--ignore-certificate-errors"] };

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
    launchOptions,
  },
  projects: [
    { name: "http", testIgnore: /tls\.spec\.ts/ },
    {
      name: "tls",
      testMatch: /(walkthrough|tls)\.spec\.ts/,
      use: {
        baseURL: tlsURL,
        ignoreHTTPSErrors: true,
        launchOptions: tlsLaunchOptions,
      },
    },
  ],
  webServer: [
    {
      command: `"${bin}" serve --addr 127.0.0.1:${port} --data-dir "${dataDir}"`,
      url: `${baseURL}/api/health`,
      timeout: 120_000,
      reuseExistingServer: false,
      stdout: "pipe",
      stderr: "pipe",
    },
    {
      command: `"${bin}" serve --addr 127.0.0.1:${tlsPort} --data-dir "${tlsDataDir}" --tls-cert "${tlsCert}" --tls-key "${tlsKey}"`,
      url: `${tlsURL}/api/health`,
      ignoreHTTPSErrors: true,
      timeout: 120_000,
      reuseExistingServer: false,
      stdout: "pipe",
      stderr: "pipe",
    },
  ],
});
