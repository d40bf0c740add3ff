import { test, expect } from "@playwright/test";
import { gotoHydrated, watchErrors, watchWasm } from "./helpers";

// Every page but the home, sign-in and registration pages is a lazy route (app::ui's
// lazy_page!): its code is a module of its own, cut out of the page bundle by the site build
// (scripts/wasm-split), which a page downloads only when it shows that route.

const user = { username: "rosa.routes", password: "rosa's long password" };

// Each test signs in itself (registering on first use), so either runs alone.
test.beforeEach(async ({ page }) => {
  const r = await page.request.post("/api/auth/register", {
    data: { username: user.username, email: "rosa@example.org", password: user.password, domain: "retail", subdomain: "pricing" },
  });
  expect([201, 409]).toContain(r.status());
  expect((await page.request.post("/api/auth/login", { data: user })).status()).toBe(200);
});

test("a page downloads its own route's module, preloaded with the page, and a link fetches the next page's", async ({ page }) => {
  const errors = watchErrors(page);
  const wasm = watchWasm(page);
  const routes = () => [...wasm].filter((p) => p.startsWith("/pkg/split_")).sort();

  await gotoHydrated(page, "/datasets/new");
  // The server's HTML asks for the route's module beside the main one, so both download at once.
  const preloads = await page.locator('link[rel="preload"][href*="/pkg/split_"]').evaluateAll((ls) => ls.map((l) => l.getAttribute("href")));
  expect(preloads.length).toBe(1);
  expect(preloads[0]).toMatch(/^\/pkg\/split___upload_route_view_\w+\.wasm$/);
  // Only the upload page's own module.
  const upload = routes();
  expect(upload).toEqual([preloads[0]]);
  expect(wasm.has("/pkg/cipherfold_bg.wasm")).toBe(true);
  // With the code it shares with other routes: all preloaded, and few (the site build merges
  // shared modules; unmerged, this page fetched 64, which over HTTP/1.1 was slower than one
  // module).
  const shared = [...wasm].filter((p) => p.startsWith("/pkg/chunk_")).sort();
  const preloadedShared = await page.locator('link[rel="preload"][href*="/pkg/chunk_"]').evaluateAll((ls) => ls.map((l) => l.getAttribute("href")));
  expect(shared).toEqual([...preloadedShared].sort());
  expect(shared.length).toBeLessThanOrEqual(15);
  // The page works: its file input is enabled once its module is hydrated.
  await expect(page.getByLabel("Data file (CSV, JSON or Excel .xlsx)")).toBeEnabled();

  // Following a link renders the next page in the browser, with that page's module.
  await page.getByRole("link", { name: "Training" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Training jobs");
  await expect(page).toHaveURL(/\/jobs$/);
  const jobs = routes().filter((p) => p !== upload[0]);
  expect(jobs.length).toBe(1);
  expect(jobs[0]).toMatch(/^\/pkg\/split___jobs_route_view_\w+\.wasm$/);

  // The home page is in the main module: nothing more to download.
  await gotoHydrated(page, "/");
  expect(routes().length).toBe(2);
  expect(errors).toEqual([]);
});

test("every page rendered at once still preloads its route's module", async ({ page }) => {
  // Rendered concurrently, pages used to lose their preload links: Leptos looked the manifest
  // up through a thread's current owner after the render had moved threads (the server's
  // routes::render_owner keeps it with the request). 6 of 30 had them before the fix.
  const pages = await Promise.all(
    Array.from({ length: 24 }, () => page.request.get("/datasets/new").then((res) => res.text())),
  );
  const preloads = (html: string) =>
    (html.match(/<link[^>]*>/g) ?? []).filter((l) => l.includes('rel="preload"') && /split___upload_route_view_\w+\.wasm/.test(l));
  const preloaded = pages.filter((html) => preloads(html).length === 1);
  expect(preloaded.length).toBe(pages.length);
});
