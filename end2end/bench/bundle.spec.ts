import { test, expect, type Browser } from "@playwright/test";
import { tlsURL } from "../playwright.config";

// Issue 17's bundle figures: how long the upload page takes to become usable (hydrated: its
// file input enabled) on Chrome DevTools' "Fast 3G" network profile, with an empty cache and
// no service worker, and how many bytes it downloaded. Each case beside the same page fetched
// with `Accept-Encoding: identity` (the bundles as they were served before the site kept
// compressed copies), in the same run, over plain HTTP/1.1 and over HTTPS/2.

/** DevTools' "Fast 3G": 562.5 ms round trip, 1.44 Mbit/s down, 675 kbit/s up. */
const fast3g = { offline: false, latency: 562.5, downloadThroughput: (1.6 * 1024 * 1024 * 0.9) / 8, uploadThroughput: (750 * 1024 * 0.9) / 8 };

const user = `bundle${Date.now()}`;
const password = "bundle bench password 1";

async function signedInContext(browser: Browser, baseURL: string) {
  const context = await browser.newContext({ baseURL, ignoreHTTPSErrors: true, serviceWorkers: "block" });
  const r = await context.request.post("/api/auth/login", { data: { username: user, password } });
  expect(r.status()).toBe(200);
  return context;
}

/** Time from navigation to the hydrated upload page, and the bytes every response carried. */
async function timeToInteractive(browser: Browser, baseURL: string, identity: boolean) {
  const context = await signedInContext(browser, baseURL);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await cdp.send("Network.emulateNetworkConditions", fast3g);
  if (identity) await cdp.send("Network.setExtraHTTPHeaders", { headers: { "Accept-Encoding": "identity" } });
  let bytes = 0;
  const encodings = new Set<string>();
  cdp.on("Network.loadingFinished", (e) => (bytes += e.encodedDataLength));
  cdp.on("Network.responseReceived", (e) => {
    if (e.response.url.endsWith(".wasm")) encodings.add(e.response.headers["content-encoding"] ?? e.response.headers["Content-Encoding"] ?? "none");
  });
  const started = Date.now();
  await page.goto("/datasets/new", { waitUntil: "commit", timeout: 300_000 });
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true", { timeout: 300_000 });
  await expect(page.getByLabel("Data file (CSV, JSON or Excel .xlsx)")).toBeEnabled();
  const seconds = (Date.now() - started) / 1000;
  await context.close();
  return { seconds, bytes, encoding: [...encodings].join("+") };
}

test("the upload page's time to interactive on Fast 3G, compressed bundles against uncompressed", async ({ browser, baseURL }) => {
  test.setTimeout(1_800_000);
  for (const url of [baseURL!, tlsURL]) {
    const setup = await browser.newContext({ baseURL: url, ignoreHTTPSErrors: true });
    const r = await setup.request.post("/api/auth/register", {
      data: { username: user, email: `${user}@example.org`, password, domain: "healthcare", subdomain: "oncology" },
    });
    expect([201, 409]).toContain(r.status());
    await setup.close();
  }
  const lines = ["upload page (/datasets/new), Fast 3G, empty cache, no service worker:"];
  for (const [name, url] of [["HTTP/1.1", baseURL!], ["HTTPS/2", tlsURL]] as const) {
    const before = await timeToInteractive(browser, url, true);
    const after = await timeToInteractive(browser, url, false);
    expect(after.encoding).not.toContain("none");
    lines.push(
      `  ${name}: uncompressed ${before.seconds.toFixed(1)} s (${(before.bytes / 1e6).toFixed(2)} MB); ` +
        `${after.encoding} ${after.seconds.toFixed(1)} s (${(after.bytes / 1e6).toFixed(2)} MB); ` +
        `${(after.seconds / before.seconds).toFixed(2)}x the time, ${(after.bytes / before.bytes).toFixed(2)}x the bytes`,
    );
  }
  console.log(lines.join("\n"));
});
