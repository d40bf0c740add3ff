import { expect, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

/** Writes a CSV of at least `bytes` bytes whose every line differs (a row number, numbers and a
 * yes/no label), so a piece of it sealed or sent out of order cannot go unnoticed. */
export function writeNumberedCsv(path: string, bytes: number) {
  // Written 10,000 lines at a time: a file over 100 MB as one string would hold every line in
  // memory at once.
  const fd = openSync(path, "w");
  let lines = ["a,b,c,label"];
  for (let i = 0, size = 0; size < bytes; i++) {
    lines.push(`${i},${(i * 0.37) % 11},${(i * 7) % 13},${i % 3 === 0 ? "yes" : "no"}`);
    size += lines[lines.length - 1].length + 1;
    if (lines.length === 10_000) {
      writeSync(fd, lines.join("\n") + "\n");
      lines = [];
    }
  }
  if (lines.length > 0) writeSync(fd, lines.join("\n") + "\n");
  closeSync(fd);
}

/** Opens stored dataset `id` with Python's independent reader (docs/envelope.md) and the
 * trainer's key from the server's data directory `dataDir`: the plaintext bytes. */
export async function openWithPython(page: Page, id: string, dataDir: string): Promise<Buffer> {
  const info = await (await page.request.get(`/api/datasets/${id}`)).json();
  const blob = await page.request.get(`/api/datasets/${id}/blob`);
  const dir = mkdtempSync(join(tmpdir(), "cf-interop-"));
  writeFileSync(join(dir, "envelope.bin"), await blob.body());
  writeFileSync(join(dir, "wrapped.json"), JSON.stringify(info.wrapped_keys.find((w: any) => w.recipient === "trainer")));
  const secret = readFileSync(join(dataDir, "keys/trainer-x25519.hex"), "utf8").trim();
  execFileSync(process.env.CIPHERFOLD_PYTHON ?? "python3", [
    join(__dirname, "../../server/tests/independent/envelope.py"), "open", "--secret", secret,
    "--wrapped", join(dir, "wrapped.json"), "--id", id, "--envelope", join(dir, "envelope.bin"),
    "--out", join(dir, "opened.csv"),
  ]);
  return readFileSync(join(dir, "opened.csv"));
}
