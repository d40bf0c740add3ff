import { test, expect, type Request } from "@playwright/test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gotoHydrated, openWithPython, uploadThroughPage, watchErrors, writeNumberedCsv } from "./helpers";

// Run by the "tls" project only, against the server that speaks HTTPS itself (--tls-cert with
// a self-signed certificate): the page comes over HTTP/2, the session cookie is Secure without
// --secure-cookies, and an upload is sealed and sent chunk by chunk as one streaming request
// (fetch with a ReadableStream body), which Python's independent reader then opens byte for
// byte.

test("over HTTPS an upload streams over HTTP/2 and arrives byte for byte", async ({ page, context }) => {
  test.setTimeout(180_000);
  const errors = watchErrors(page);
  // Over the 128 MiB a preview seals ahead (app::file_worker::SEAL_AHEAD_LIMIT), so it is
  // sealed after the click as the network takes it: 17 groups of eight envelope chunks (1 MiB
  // each), the stream pulled for each, each group read while the one before is sealed.
  const dir = mkdtempSync(join(tmpdir(), "cf-tls-"));
  const csv = join(dir, "streamed.csv");
  writeNumberedCsv(csv, 136_000_000);

  await gotoHydrated(page, "/register");
  await page.getByLabel("Username").fill("tls.user");
  await page.getByLabel("Email").fill("tls.user@example.org");
  await page.getByLabel("Password", { exact: true }).fill("a password over TLS");
  await page.getByLabel("Domain", { exact: true }).selectOption("finance");
  await page.getByLabel("Subdomain").selectOption({ index: 1 });
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Welcome, tls.user");
  const cookies = await context.cookies();
  expect(cookies.length).toBeGreaterThan(0);
  for (const c of cookies) expect(c.secure, `cookie ${c.name} is Secure over HTTPS`).toBe(true);

  // Every request the page and its worker make is watched: Chromium reports HTTP/2's pseudo
  // headers (":authority", ":path") among a request's raw headers, and a body sent as a stream
  // has no Content-Length (XMLHttpRequest, the whole-body fallback, always sends one).
  const requests: Request[] = [];
  context.on("request", (r) => requests.push(r));
  await uploadThroughPage(page, csv, "a passphrase over TLS");
  const pageGets = requests.filter((r) => r.method() === "GET" && new URL(r.url()).pathname.startsWith("/api/"));
  expect(pageGets.length).toBeGreaterThan(0);
  for (const r of pageGets) expect(Object.keys(await r.allHeaders()), r.url()).toContain(":authority");
  const puts = requests.filter((r) => r.method() === "PUT" && r.url().endsWith("/blob"));
  expect(puts.length, "one upload request").toBe(1);
  const put = await puts[0].allHeaders();
  expect(Object.keys(put)).toContain(":authority");
  expect(put["content-length"], "a streamed body has no length up front").toBeUndefined();
  expect((await puts[0].response())?.status()).toBeLessThan(300);

  // What arrived opens, with the independent reader of docs/envelope.md, to the very file.
  const mine = await (await page.request.get("/api/datasets")).json();
  const dataset = (mine.items ?? mine).find((d: any) => d.name === "streamed");
  const opened = await openWithPython(page, dataset.id, process.env.CIPHERFOLD_E2E_TLS_DATA_DIR!);
  expect(opened.equals(readFileSync(csv))).toBe(true);
  expect(errors).toEqual([]);
  rmSync(dir, { recursive: true, force: true });
});
