import { test, expect, type Page } from "@playwright/test";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gotoHydrated, openWithPython, uploadThroughPage, watchErrors, watchWasm, writeNumberedCsv } from "./helpers";
import { compareSealing } from "./sealing";

test.describe.configure({ mode: "serial" });

const data = (name: string) => join(__dirname, "../../app/tests/data", name);
const user = { username: "erin.e2e", password: "erin's long password", passphrase: "erin's dataset passphrase" };

// One login for the whole (serial) file, its cookies reused: logging in before each test would
// run into the server's limit of five logins a minute per account.
let session: Awaited<ReturnType<ReturnType<Page["context"]>["cookies"]>> | null = null;

async function login(page: Page) {
  if (!session) {
    const r = await page.request.post("/api/auth/login", { data: { username: user.username, password: user.password } });
    expect(r.status()).toBe(200);
    session = await page.context().cookies();
  } else {
    await page.context().addCookies(session);
  }
}

async function datasets(page: Page): Promise<any[]> {
  const r = await page.request.get("/api/datasets");
  expect(r.status()).toBe(200);
  return r.json();
}

async function upload(page: Page, file: string, firstUpload: boolean) {
  await uploadThroughPage(page, file, firstUpload ? user.passphrase : undefined);
}

test("register the uploader", async ({ page }) => {
  const r = await page.request.post("/api/auth/register", {
    data: { username: user.username, email: "erin@example.org", password: user.password, domain: "healthcare", subdomain: "oncology" },
  });
  expect(r.status()).toBe(201);
});

test("iris.xlsx, iris.json and diabetes.csv upload through the page, sealed in the browser", async ({ page }) => {
  const errors = watchErrors(page);
  await login(page);
  await upload(page, data("iris.xlsx"), true);
  await upload(page, data("iris.json"), false);
  await upload(page, data("diabetes.csv"), false);
  const list = await datasets(page);
  expect(list.map((d) => [d.name, d.format, d.rows, d.status]).sort()).toEqual([
    ["diabetes", "csv", 442, "ready"],
    ["iris", "json", 150, "ready"],
    ["iris", "xlsx", 150, "ready"],
  ]);
  await gotoHydrated(page, "/datasets");
  await expect(page.getByRole("heading", { name: "Healthcare · Oncology" })).toBeVisible();
  await expect(page.getByTestId("dataset-table").locator("tbody tr")).toHaveCount(3);
  expect(errors).toEqual([]);
});

test("a malformed CSV names its line and uploads nothing", async ({ page }) => {
  await login(page);
  const before = (await datasets(page)).length;
  await gotoHydrated(page, "/datasets/new");
  await page.getByLabel("Data file (CSV, JSON or Excel .xlsx)").setInputFiles({
    name: "broken.csv",
    mimeType: "text/csv",
    buffer: Buffer.from("a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n"),
  });
  await expect(page.getByRole("alert")).toContainText("line 4: expected 3 fields like the first line, found 2");
  await expect(page.getByRole("button", { name: "Seal and upload" })).toBeDisabled();
  expect((await datasets(page)).length).toBe(before);
});

test("the upload page loads only the files' worker bundle (the Excel one for an .xlsx), and says so when it cannot", async ({ page }) => {
  await login(page);
  const wasm = watchWasm(page);
  await page.context().route("**/pkg/cipherfold_worker_bg.wasm", (route) => route.abort());
  await gotoHydrated(page, "/datasets/new");
  await page.getByLabel("Data file (CSV, JSON or Excel .xlsx)").setInputFiles({
    name: "small.csv", mimeType: "text/csv", buffer: Buffer.from("a,b\n1,2\n"),
  });
  await expect(page.getByRole("alert")).toContainText("the file reader could not start");
  await expect(page.getByRole("alert")).toContainText("reload the page");
  // The federated trainer's, tfhe's and the Excel reader's builds stay on the server...
  expect([...wasm].filter((p) => p.includes("worker"))).toEqual(["/pkg/cipherfold_worker_bg.wasm"]);
  // ... until an Excel file is picked: the Excel build reads it.
  await page.getByLabel("Data file (CSV, JSON or Excel .xlsx)").setInputFiles(data("iris.xlsx"));
  await expect(page.getByRole("status").first()).toContainText("read from iris.xlsx");
  expect([...wasm].filter((p) => p.includes("worker"))).toEqual(["/pkg/cipherfold_worker_bg.wasm", "/pkg/cipherfold_worker_excel_bg.wasm"]);
});

test("a browser without WebAssembly SIMD is told to update it, not to reload", async ({ page }) => {
  await login(page);
  // The worker's bundles need SIMD, which the loader checks by validating a one-instruction
  // module: here that check fails, as in a browser without it.
  await page.context().route("**/seal-worker.js*", async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: "WebAssembly.validate = () => false;\n" + (await response.text()) });
  });
  const wasm = watchWasm(page);
  await gotoHydrated(page, "/datasets/new");
  await page.getByLabel("Data file (CSV, JSON or Excel .xlsx)").setInputFiles({
    name: "small.csv", mimeType: "text/csv", buffer: Buffer.from("a,b\n1,2\n"),
  });
  await expect(page.getByRole("alert")).toContainText("this browser is too old to read files here (it lacks WebAssembly SIMD)");
  await expect(page.getByRole("alert")).toContainText("Safari 16.4 or later");
  await expect(page.getByRole("alert")).not.toContainText("reload the page");
  expect([...wasm].filter((p) => p.includes("worker"))).toEqual([]);
});

test("reading a large CSV shows progress and can be cancelled", async ({ page }) => {
  await login(page);
  const before = (await datasets(page)).length;
  await gotoHydrated(page, "/datasets/new");
  const lines = ["a,b,c,label"];
  for (let i = 0; i < 1_500_000; i++) lines.push(`${i},${i % 97},${(i / 13).toFixed(4)},${i % 2 ? "yes" : "no"}`);
  await page.getByLabel("Data file (CSV, JSON or Excel .xlsx)").setInputFiles({
    name: "large.csv", mimeType: "text/csv", buffer: Buffer.from(lines.join("\n") + "\n"),
  });
  await expect(page.getByLabel("Reading and checking the file")).toBeVisible();
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByRole("status").first()).toContainText("Cancelled");
  await expect(page.getByRole("button", { name: "Seal and upload" })).toBeDisabled();
  expect((await datasets(page)).length).toBe(before);
});

test("the owner downloads and opens a dataset and sees the same rows", async ({ page }) => {
  const errors = watchErrors(page);
  await login(page);
  const iris = (await datasets(page)).find((d) => d.format === "json");
  await gotoHydrated(page, `/datasets/${iris.id}`);
  await page.getByLabel("Dataset key passphrase").fill("not the passphrase");
  await page.getByRole("button", { name: "Download and open" }).click();
  await expect(page.locator("#o-error")).toContainText("passphrase is wrong");
  await page.getByLabel("Dataset key passphrase").fill(user.passphrase);
  await page.getByRole("button", { name: "Download and open" }).click();
  await expect(page.locator("#o-status")).toContainText("Opened in this browser: 150 rows.");
  // Twenty rows a page, as the upload's preview; the buttons page through all 150.
  const rows = page.locator("#o-table tbody tr");
  await expect(rows).toHaveCount(20);
  await expect(page.locator("#o-table caption")).toHaveText("Rows 1–20 of 150, decrypted in this browser");
  await expect(rows.first().locator("td")).toHaveText(["5.1", "3.5", "1.4", "0.2", "setosa"]);
  const previous = page.getByRole("button", { name: "Previous 20 rows" });
  const next = page.getByRole("button", { name: "Next 20 rows" });
  await expect(previous).toBeDisabled();
  for (let i = 0; i < 7; i++) await next.click();
  await expect(page.locator("#o-table caption")).toHaveText("Rows 141–150 of 150, decrypted in this browser");
  await expect(rows).toHaveCount(10);
  await expect(rows.last().locator("td")).toHaveText(["5.9", "3", "5.1", "1.8", "virginica"]);
  await expect(next).toBeDisabled();
  await previous.click();
  await expect(page.locator("#o-table caption")).toHaveText("Rows 121–140 of 150, decrypted in this browser");
  expect(errors).toEqual([]);
});

test("an Excel dataset opens through the Excel worker bundle", async ({ page }) => {
  const errors = watchErrors(page);
  await login(page);
  const wasm = watchWasm(page);
  const xlsx = (await datasets(page)).find((d) => d.format === "xlsx");
  await gotoHydrated(page, `/datasets/${xlsx.id}`);
  await page.getByLabel("Dataset key passphrase").fill(user.passphrase);
  await page.getByRole("button", { name: "Download and open" }).click();
  await expect(page.locator("#o-status")).toContainText("Opened in this browser: 150 rows.");
  await expect(page.locator("#o-table tbody tr").first().locator("td")).toHaveText(["5.1", "3.5", "1.4", "0.2", "setosa"]);
  expect([...wasm]).toContain("/pkg/cipherfold_worker_excel_bg.wasm");
  expect(errors).toEqual([]);
});

test("Python's independent reader opens what the browser sealed, following docs/envelope.md", async ({ page }) => {
  await login(page);
  const diabetes = (await datasets(page)).find((d) => d.format === "csv");
  const opened = await openWithPython(page, diabetes.id, process.env.CIPHERFOLD_E2E_DATA_DIR!);
  expect(opened.equals(readFileSync(data("diabetes.csv")))).toBe(true);
});

test("no plaintext row is in the server's data directory", async () => {
  const dataDir = process.env.CIPHERFOLD_E2E_DATA_DIR!;
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(dataDir);
  expect(files.some((f) => f.includes("/objects/datasets/"))).toBe(true);
  const needles = ["5.1,3.5,1.4,0.2,setosa", "setosa", "versicolor", "59.0,2.0,32.1,101.0", "4.8598"];
  for (const f of files) {
    const bytes = readFileSync(f);
    for (const n of needles) expect(bytes.includes(Buffer.from(n)), `${f} contains ${n}`).toBe(false);
  }
});

test("WebCrypto and the wasm aes-gcm seal the same bytes", async ({ page }) => {
  await gotoHydrated(page, "/");
  const result = await compareSealing(page, 2);
  expect(result.bytes).toBe(2 << 20);
  expect(result.same).toBe(true);
});

test("in-app links navigate without reloading; the owner deletes a dataset after confirming", async ({ page }) => {
  const errors = watchErrors(page);
  await login(page);
  const xlsx = (await datasets(page)).find((d) => d.format === "xlsx");
  await gotoHydrated(page, "/");
  // A marker on the window survives only if no link reloads the page.
  await page.evaluate(() => ((window as any).stayed = true));
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Datasets" }).click();
  await expect(page.getByTestId("dataset-table").first()).toBeVisible();
  await page.locator(`a[href="/datasets/${xlsx.id}"]`).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("iris");
  expect(await page.evaluate(() => (window as any).stayed)).toBe(true);

  await page.getByRole("button", { name: "Delete this dataset" }).click();
  await page.getByRole("button", { name: "Keep it" }).click();
  await page.getByRole("button", { name: "Delete this dataset" }).click();
  await page.getByRole("button", { name: "Yes, delete it" }).click();
  await expect(page).toHaveURL(/\/datasets$/);
  await expect(page.getByTestId("dataset-table").locator("tbody tr")).toHaveCount(2);
  expect((await datasets(page)).map((d) => d.format).sort()).toEqual(["csv", "json"]);
  expect(await page.evaluate(() => (window as any).stayed)).toBe(true);
  expect(errors).toEqual([]);
});

test("the upload page with a preview fits a 390 px phone without sideways scrolling", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await login(page);
  await gotoHydrated(page, "/datasets/new");
  await page.getByLabel("Data file (CSV, JSON or Excel .xlsx)").setInputFiles(data("diabetes.csv"));
  await expect(page.getByRole("status").first()).toContainText("Nothing has left this browser");
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  expect(scroll, "the page is no wider than the screen (wide tables scroll inside their box)").toBeLessThanOrEqual(client);
  const box = await page.getByLabel(/^Let people in .* see this dataset's name and columns/).boundingBox();
  const label = await page.locator("label[for=u-shared]").boundingBox();
  expect(label!.width, "the checkbox's label takes the row, not a sliver of it").toBeGreaterThan(200);
  expect(box!.width).toBeLessThan(40);
});

test("a CSV's preview is read in pieces by the reader worker, and without it the same by the file worker; a file picked over another still being read shows only its own", async ({ page }) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  await login(page);
  // 1 MiB, then 8 MiB pieces: three of them, one line cut at each seam.
  const dir = mkdtempSync(join(tmpdir(), "cf-reader-"));
  const csv = join(dir, "pieces.csv");
  writeNumberedCsv(csv, 12_000_000);
  const rows = readFileSync(csv, "utf8").split("\n").length - 2;
  const scripts: string[] = [];
  page.context().on("request", (r) => {
    if (r.url().endsWith("/file-reader.js")) scripts.push(r.url());
  });
  const input = page.getByLabel("Data file (CSV, JSON or Excel .xlsx)");
  const preview = async () => {
    await expect(page.getByRole("status").first()).toContainText(`${rows} rows and 4 columns read from pieces.csv`, { timeout: 30_000 });
    return page.locator("main").innerText();
  };
  await gotoHydrated(page, "/datasets/new");
  await input.setInputFiles(csv);
  const read = await preview();
  expect(scripts.length).toBeGreaterThan(0);

  // A large file, then this one before the first is read: only this one's preview shows, and
  // no error for the file left unread.
  const large = join(dir, "large.csv");
  writeNumberedCsv(large, 60_000_000);
  await gotoHydrated(page, "/datasets/new");
  await input.setInputFiles(large);
  await expect(page.getByLabel("Reading and checking the file")).toBeVisible();
  await input.setInputFiles(csv);
  expect(await preview()).toEqual(read);
  await page.waitForTimeout(1_000);
  await expect(page.getByRole("status").first()).toContainText("read from pieces.csv");
  await expect(page.getByRole("alert")).toHaveCount(0);

  // Where the reader's script does not load, the file worker reads the file itself.
  await page.context().route("**/file-reader.js", (route) => route.abort());
  await gotoHydrated(page, "/datasets/new");
  await input.setInputFiles(csv);
  expect(await preview()).toEqual(read);
  expect(errors.filter((e) => !e.includes("file-reader.js") && !e.includes("net::ERR_FAILED"))).toEqual([]);
  rmSync(dir, { recursive: true, force: true });
});

test("a file of several 8 MiB reads, sealed ahead while its preview shows, is stored byte for byte, not the file picked before it", async ({ page }) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  await login(page);
  // Three groups of eight 1 MiB chunks: each group's read starts while the one before is
  // sealed. Another file is picked first, in the same page (the same worker): what was sealed
  // ahead for it must be dropped, and the second file sealed and sent.
  const dir = mkdtempSync(join(tmpdir(), "cf-groups-"));
  const first = join(dir, "picked-first.csv");
  writeNumberedCsv(first, 2_000_000);
  const csv = join(dir, "groups.csv");
  writeNumberedCsv(csv, 18_000_000);
  await gotoHydrated(page, "/datasets/new");
  const input = page.getByLabel("Data file (CSV, JSON or Excel .xlsx)");
  await input.setInputFiles(first);
  await expect(page.getByRole("status").first()).toContainText("read from picked-first.csv. Nothing has left this browser");
  await input.setInputFiles(csv);
  await expect(page.getByRole("status").first()).toContainText("read from groups.csv. Nothing has left this browser");
  await expect(page.getByLabel("Dataset name")).toHaveValue("groups");
  await page.getByRole("button", { name: "Seal and upload" }).click();
  await expect(page.getByRole("status").first()).toContainText("only ciphertext left this browser", { timeout: 30_000 });
  const mine = await datasets(page);
  expect(mine.filter((d) => d.name === "picked-first")).toEqual([]);
  const stored = mine.find((d) => d.name === "groups");
  expect((await openWithPython(page, stored.id, process.env.CIPHERFOLD_E2E_DATA_DIR!)).equals(readFileSync(csv))).toBe(true);
  expect(errors).toEqual([]);
  rmSync(dir, { recursive: true, force: true });
});

test("an upload clicked while its file is still being sealed ahead waits for it, can be cancelled, and the next click sends the file byte for byte", async ({ page }) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  await login(page);
  const before = (await datasets(page)).length;
  // 64 MB: sealed ahead (under 128 MiB), in about half a second here, so the click and the
  // cancel right after the preview find it still running (on a faster machine, maybe the
  // upload under way: the cancel then aborts it and deletes the declaration).
  const dir = mkdtempSync(join(tmpdir(), "cf-hurried-"));
  const csv = join(dir, "hurried.csv");
  writeNumberedCsv(csv, 64_000_000);
  await gotoHydrated(page, "/datasets/new");
  await page.getByLabel("Data file (CSV, JSON or Excel .xlsx)").setInputFiles(csv);
  await expect(page.getByRole("status").first()).toContainText("read from hurried.csv. Nothing has left this browser", { timeout: 30_000 });
  // The cancel once the keys are fetched, when the worker waits for the sealing ahead.
  const keysFetched = page.waitForResponse((r) => r.url().endsWith("/api/keys/me"));
  await page.getByRole("button", { name: "Seal and upload" }).click();
  await keysFetched;
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByRole("status").first()).toContainText("Cancelled; nothing was kept on the server");
  await expect.poll(async () => (await datasets(page)).length).toBe(before);
  // Sealed again under a new key (a stopped sealing ahead is never resumed), and sent.
  await page.getByRole("button", { name: "Seal and upload" }).click();
  await expect(page.getByRole("status").first()).toContainText("only ciphertext left this browser", { timeout: 30_000 });
  const stored = (await datasets(page)).find((d) => d.name === "hurried");
  expect((await openWithPython(page, stored.id, process.env.CIPHERFOLD_E2E_DATA_DIR!)).equals(readFileSync(csv))).toBe(true);
  expect(errors).toEqual([]);
  rmSync(dir, { recursive: true, force: true });
});
