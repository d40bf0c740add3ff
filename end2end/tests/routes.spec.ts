import { test, expect } from "@playwright/test";
import { gotoHydrated, watchErrors, watchWasm } from "./helpers";

// Every page but the home, sign-in and registration pages is a lazy route (app::ui's
// lazy_page!): its code is a module of its own, cut out of the page bundle by the site build
// (scripts/wasm-split), which a page downloads only when it shows that route.

const user = { username: "rosa.routes", password: "rosa's long password" };

test("a page downloads its own route's module, and a link fetches the next page's", async ({ page }) => {
  const r = await page.request.post("/api/auth/register", {
    data: { username: user.username, email: "rosa@example.org", password: user.password, domain: "retail", subdomain: "pricing" },
  });
  expect([201, 409]).toContain(r.status());
  expect((await page.request.post("/api/auth/login", { data: user })).status()).toBe(200);
  const errors = watchErrors(page);
  const wasm = watchWasm(page);
  const routes = () => [...wasm].filter((p) => p.startsWith("/pkg/split_")).sort();

  await gotoHydrated(page, "/datasets/new");
  // Only the upload page's own module. (The server's HTML also preloads it when it has read the
  // splitter's manifest; a clean-clone CI run rendered no preload link, which is not explained
  // yet, so this test does not depend on it.)
  const upload = routes();
  expect(upload.length).toBe(1);
  expect(upload[0]).toMatch(/^\/pkg\/split___upload_route_view_\w+\.wasm$/);
  expect(wasm.has("/pkg/cipherfold_bg.wasm")).toBe(true);
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
