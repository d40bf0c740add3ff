import base from "./playwright.config";
import { defineConfig } from "@playwright/test";

// The sealing benchmark (scripts/bench-seal.sh): same server and browser as the tests.
export default defineConfig({ ...base, testDir: "./bench", timeout: 600_000 });
