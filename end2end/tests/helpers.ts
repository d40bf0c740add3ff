import { expect, type Page } from "@playwright/test";

/** Collects console errors and uncaught exceptions so a test can assert there were none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(err.message));
  return errors;
}

/** The paths of the .wasm files the page and its workers load from now on (a worker's requests
 * are the context's, not the page's). The service worker's own fetches are left out: on
 * install it fetches every route's module into its cache, which says nothing about what the
 * page needed; a load the service worker passes on is still seen as the page's request. */
export function watchWasm(page: Page): Set<string> {
  const wasm = new Set<string>();
  page.context().on("request", (r) => {
    if (r.serviceWorker()) return;
    if (r.url().endsWith(".wasm")) wasm.add(new URL(r.url()).pathname);
  });
  return wasm;
}

/** Navigates and waits until the wasm has hydrated the page (App sets the marker). */
export async function gotoHydrated(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true", { timeout: 30_000 });
}

/**
 * Uploads `file` through the upload page, as a person would: the page parses and seals it in
 * the browser. `passphrase` is set on the user's first upload only.
 */
export async function uploadThroughPage(page: Page, file: string, passphrase?: string, shared = false) {
  await gotoHydrated(page, "/datasets/new");
  await page.getByLabel("Data file (CSV, JSON or Excel .xlsx)").setInputFiles(file);
  await expect(page.getByRole("status").first()).toContainText("Nothing has left this browser");
  await expect(page.locator("#u-table table")).toBeVisible();
  if (shared) await page.getByLabel(/^Let people in .* see this dataset's name and columns/).check();
  if (passphrase) {
    await page.getByLabel("Dataset key passphrase (at least 10 characters)").fill(passphrase);
    await page.getByLabel("The same passphrase again").fill(passphrase);
  } else {
    await expect(page.locator("#u-key")).toBeHidden();
  }
  await page.getByRole("button", { name: "Seal and upload" }).click();
  await expect(page.getByRole("status").first()).toContainText("only ciphertext left this browser", { timeout: 30_000 });
  await expect(page.getByRole("link", { name: "View the dataset" })).toBeVisible();
}
