import base, { tlsLaunchOptions } from "./playwright.config";
import { defineConfig } from "@playwright/test";

// The browser benchmarks (scripts/bench-*.sh): the same servers (plain HTTP and HTTPS) and
// browser as the tests, one project; the browser accepts the HTTPS server's self-signed
// certificate as the "tls" test project does.
export default defineConfig({
  ...base,
  testDir: "./bench",
  timeout: 600_000,
  projects: [
    {
      name: "bench",
      use: { launchOptions: tlsLaunchOptions },
    },
  ],
});
