import { test, expect } from "@playwright/test";
import { get, type IncomingHttpHeaders } from "node:http";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { baseURL } from "../playwright.config";
import { watchErrors } from "./helpers";

test("home page is rendered on the server, before any script runs", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Train better models together");
  await expect(page.getByLabel("Domain")).toHaveValue("healthcare");
  await expect(page.getByTestId("subdomains")).toContainText("Cardiology");
  await expect(page.getByTestId("version")).toHaveText(/^v\d+\.\d+\.\d+$/);
  await context.close();
});

test("pages arrive complete: no content waits in a template for a script to swap it in", async ({ request }) => {
  // Streaming out of order sends a fallback when a resource is not ready at the instant the
  // body is drawn, a race that once left a no-script visitor without the home page's heading.
  for (const path of ["/", "/login", "/register"]) {
    for (let i = 0; i < 10; i++) {
      const html = await (await request.get(path)).text();
      expect(html, path).toMatch(/<h1[^>]*>/);
      expect(html, path).not.toContain("<template");
    }
  }
});

test("page hydrates: the domain picker updates the subdomains, with no console errors", async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto("/");
  const picker = page.getByLabel("Domain");
  const subdomains = page.getByTestId("subdomains");
  // Hydration has attached handlers once the wasm has run; retry the selection until it takes.
  await expect(async () => {
    await picker.selectOption("finance");
    await expect(subdomains).toContainText("Fraud detection", { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await expect(subdomains).not.toContainText("Cardiology");
  // Keyboard works too: focus the picker and move to the next domain.
  await picker.focus();
  await page.keyboard.press("ArrowDown");
  await expect(picker).toHaveValue("technology");
  await expect(subdomains).toContainText("Cybersecurity");
  expect(errors).toEqual([]);
});

/** GET `path` as a browser that accepts only `encoding` would, with the body as sent. */
function getRaw(path: string, encoding: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(`${baseURL}${path}`, { headers: { "Accept-Encoding": encoding } }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
    }).on("error", reject);
  });
}

test("the bundles go compressed to a browser that takes brotli or gzip, and whole to one that takes neither", async () => {
  for (const path of ["/pkg/cipherfold_bg.wasm", "/pkg/cipherfold_worker_bg.wasm", "/pkg/cipherfold.js", "/pkg/cipherfold.css"]) {
    const whole = await getRaw(path, "identity");
    expect(whole.status, path).toBe(200);
    expect(whole.headers["content-encoding"], path).toBeUndefined();
    for (const [encoding, inflate] of [["br", brotliDecompressSync], ["gzip", gunzipSync]] as const) {
      const sent = await getRaw(path, encoding);
      expect(sent.headers["content-encoding"], `${path} ${encoding}`).toBe(encoding);
      expect(sent.headers["content-type"], `${path} ${encoding}`).toBe(whole.headers["content-type"]);
      // The compressed copy is this build's file, not a stale one, and a fraction of its size.
      expect(inflate(sent.body).equals(whole.body), `${path} ${encoding} decodes to the file`).toBe(true);
      expect(sent.body.length, `${path} ${encoding}`).toBeLessThan(whole.body.length / 2);
    }
  }
  expect((await getRaw("/pkg/cipherfold_bg.wasm", "gzip")).headers["content-type"]).toBe("application/wasm");
});

test("manifest is valid and its icons are the sizes it claims", async ({ request }) => {
  const res = await request.get("/manifest.webmanifest");
  expect(res.status()).toBe(200);
  expect(res.headers()["content-type"]).toContain("application/manifest+json");
  const m = await res.json();
  expect(m.name).toBe("Cipherfold");
  expect(m.short_name).toBe("Cipherfold");
  expect(m.start_url).toBe("/");
  expect(m.display).toBe("standalone");
  expect(m.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
  for (const size of [192, 512]) {
    const icon = m.icons.find((i: { sizes: string }) => i.sizes === `${size}x${size}`);
    expect(icon, `${size} px icon listed`).toBeTruthy();
    const png = await (await request.get(icon.src)).body();
    // PNG signature, then IHDR width and height (big-endian) at bytes 16..24.
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.readUInt32BE(16)).toBe(size);
    expect(png.readUInt32BE(20)).toBe(size);
  }
});

test("service worker activates, caches the shell, and serves it offline", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto("/");
  // `ready` resolves once there is an active worker, which may still be "activating".
  const state = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    const sw = reg.active!;
    if (sw.state !== "activated") {
      await new Promise<void>((resolve) =>
        sw.addEventListener("statechange", () => sw.state === "activated" && resolve())
      );
    }
    return sw.state;
  });
  expect(state).toBe("activated");
  // The cache is named after the build, and holds the wasm bundle.
  const cached = await page.evaluate(async () => {
    const keys = await caches.keys();
    const cache = await caches.open(keys.find((k) => k.startsWith("cipherfold-"))!);
    return { keys, wasm: !!(await cache.match("/pkg/cipherfold_bg.wasm")) };
  });
  expect(cached.keys.some((k) => /^cipherfold-[0-9a-f]{16}$/.test(k))).toBe(true);
  expect(cached.wasm).toBe(true);

  await context.setOffline(true);
  await page.reload();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Train better models together");
  // Offline, the cached bundle still hydrates the page.
  await expect(async () => {
    await page.getByLabel("Domain").selectOption("retail");
    await expect(page.getByTestId("subdomains")).toContainText("Supply chain", { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await context.setOffline(false);
  expect(errors).toEqual([]);
  await context.close();
});

test("an unknown address shows a helpful 404 page", async ({ page }) => {
  const res = await page.goto("/does-not-exist");
  expect(res?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await page.getByRole("link", { name: "Go to the home page" }).click();
  await expect(page).toHaveURL(/\/$/);
});
