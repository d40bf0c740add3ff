import { test, expect, type Page, type Request } from "@playwright/test";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { baseURL } from "../playwright.config";
import { gotoHydrated, uploadThroughPage, watchErrors } from "./helpers";

// Encrypted prediction as a person meets it (docs/he.md): a logistic model on iris, its page's
// "Encrypted prediction" section, one typed row and a whole file encrypted in the browser's
// worker. Every request the page makes is recorded: the typed values never appear in one, and
// the encrypted prediction equals the plaintext one. Desktop and a 390 px phone. Its own area.

test.describe.configure({ mode: "serial" });

const password = "an encrypted prediction password";
const user = "kira.he";
const shots = process.env.CIPHERFOLD_SCREENSHOTS;
/** The model the first test trains, used by the next. */
let model = "";

function noSideScroll(page: Page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
}

/** A row's values in the forms' field order (iris's four measurements). */
const row = { sepal_length_cm: "6.7", sepal_width_cm: "3.1", petal_length_cm: "5.6", petal_width_cm: "2.4" };

async function fill(page: Page, prefix: string) {
  for (const [name, value] of Object.entries(row)) await page.locator(`#${prefix}-${name}`).fill(value);
}

test("a logistic model predicts a typed row and a file without the server seeing them", async ({ browser, page }) => {
  test.setTimeout(180_000);
  const r = await page.request.post("/api/auth/register", {
    data: { username: user, email: `${user}@example.org`, password, domain: "finance", subdomain: "credit-risk" },
  });
  expect(r.status()).toBe(201);
  const p = await (await browser.newContext()).newPage();
  expect((await p.request.post("/api/auth/login", { data: { username: user, password } })).status()).toBe(200);
  const errors = watchErrors(p);
  const iris = join(__dirname, "../../app/tests/data/iris.csv");
  await uploadThroughPage(p, iris, "kira's dataset passphrase");
  const [dataset] = await (await p.request.get("/api/datasets")).json();
  const job = await (await p.request.post("/api/jobs", { data: { dataset_ids: [dataset.id], target: "species", model: { kind: "logistic" } } })).json();
  await expect(async () => {
    model = (await (await p.request.get(`/api/jobs/${job.id}`)).json()).model_id ?? "";
    expect(model).not.toBe("");
  }).toPass({ timeout: 60_000 });

  await gotoHydrated(p, `/models/${model}`);
  const facts = p.getByTestId("he-facts");
  await expect(facts).toContainText(/accuracy 0\.\d{3} quantised, 0\.\d{3} as trained, on the 150 training rows/);
  await expect(facts).toContainText("inputs 8 bits (±4 standard deviations), weights 10 bits");
  await expect(facts).toContainText("48 bytes sent, 49176 bytes back");

  // The plaintext prediction first, for comparison.
  await fill(p, "t");
  await p.getByTestId("test-row").getByRole("button", { name: "Predict" }).click();
  await expect(p.getByTestId("prediction")).toContainText("Prediction: virginica");
  const plain = (await p.getByTestId("prediction").textContent())!.match(/Prediction: (\w+)/)![1];

  // The encrypted one, every request recorded.
  const sent: Request[] = [];
  p.on("request", (q) => sent.push(q));
  await fill(p, "e");
  await p.getByRole("button", { name: "Encrypt and predict" }).click();
  await expect(p.getByTestId("he-prediction")).toContainText(`Prediction: ${plain}`, { timeout: 60_000 });
  await expect(p.getByTestId("he-cost")).toContainText("1 row encrypted in this browser: 96 bytes of ciphertext sent, 49192 bytes back");
  console.log(`one row: ${await p.getByTestId("he-cost").textContent()}`);
  const encrypted = sent.filter((q) => q.url().includes("/predict-encrypted"));
  expect(encrypted).toHaveLength(1);
  expect(sent.some((q) => q.url().includes("/api/ui/predict") || q.url().endsWith("/predict"))).toBe(false);
  for (const q of sent) {
    const body = q.postDataBuffer();
    if (!body) continue;
    for (const value of Object.values(row)) {
      const double = Buffer.alloc(8);
      double.writeDoubleLE(Number(value));
      expect(body.includes(Buffer.from(value)), `${q.url()} carries “${value}” as text`).toBe(false);
      expect(body.includes(double), `${q.url()} carries ${value} as a number`).toBe(false);
    }
  }
  if (shots) await p.screenshot({ path: `${shots}/encrypted-desktop.png`, fullPage: true });

  // A whole file, encrypted row by row in the worker: 150 predictions, the plaintext ones.
  await p.getByLabel("Or a file of rows, encrypted row by row in this browser (CSV, JSON or Excel .xlsx)").setInputFiles(iris);
  await expect(p.getByTestId("he-table").locator("tbody tr")).toHaveCount(150, { timeout: 60_000 });
  await expect(p.getByTestId("he-cost")).toContainText("150 rows encrypted in this browser: 7248 bytes of ciphertext sent");
  console.log(`iris.csv: ${await p.getByTestId("he-cost").textContent()}`);
  const [header, ...lines] = readFileSync(iris, "utf8").trim().split("\n");
  const names = header.split(",");
  const rows = lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [names[i], i < 4 ? Number(v) : v])));
  const plainAll = await (await p.request.post(`/api/models/${model}/predict`, { data: { rows } })).json();
  const labels = await p.getByTestId("he-table").locator("tbody tr").evaluateAll((trs) => trs.map((tr) => tr.children[4]?.textContent ?? ""));
  const same = labels.filter((l, i) => l === plainAll.predictions[i].label).length;
  expect(same).toBeGreaterThanOrEqual(148);

  // At phone width the section reads without sideways scrolling.
  await p.setViewportSize({ width: 390, height: 844 });
  expect(await noSideScroll(p)).toBe(true);
  if (shots) await p.screenshot({ path: `${shots}/encrypted-phone.png`, fullPage: true });
  expect(errors).toEqual([]);
});

// One key for the browser and the CLI, and the browser's ciphertexts checked from outside: a
// key file is loaded into the page's worker, a typed row is encrypted there (wasm), and the
// request and answer the server saw are decrypted by the independent Python client
// (server/tests/independent/he_client.py, written from docs/he.md) with that key: the inputs
// are the row quantised as docs/he.md says, and the scores give the page's label. The CLI
// (native) with the same key file predicts the same. The key saved from the page is the file.
test("a key file shared with the CLI; the browser's ciphertexts decrypt outside it", async ({ browser }) => {
  test.setTimeout(120_000);
  expect(model).not.toBe("");
  const p = await (await browser.newContext()).newPage();
  expect((await p.request.post("/api/auth/login", { data: { username: user, password } })).status()).toBe(200);
  const errors = watchErrors(p);
  await gotoHydrated(p, `/models/${model}`);
  const dir = mkdtempSync(join(tmpdir(), "cipherfold-hekey-"));

  // A file that is not a key is refused with what a key file is.
  writeFileSync(join(dir, "notes.txt"), "not a key");
  const keyInput = p.getByLabel("Use a key file instead (one saved here, or the file cipherfold he predict keeps)");
  await keyInput.setInputFiles(join(dir, "notes.txt"));
  await expect(p.locator("#e-error")).toContainText("The key file was not used: notes.txt is not a key file (a key file is exactly 256 bytes; this one has 9).");

  const keyFile = join(dir, "shared.key");
  writeFileSync(keyFile, randomBytes(256));
  await keyInput.setInputFiles(keyFile);
  await expect(p.getByRole("status").filter({ hasText: "Using the key in shared.key." })).toBeVisible();
  await expect(p.getByTestId("he-key-note")).toContainText("under the key in shared.key");

  await fill(p, "e");
  const [response] = await Promise.all([
    p.waitForResponse((r) => r.url().endsWith(`/api/models/${model}/predict-encrypted`)),
    p.getByRole("button", { name: "Encrypt and predict" }).click(),
  ]);
  await expect(p.getByTestId("he-prediction")).toContainText("Prediction: virginica", { timeout: 60_000 });
  writeFileSync(join(dir, "request.bin"), response.request().postDataBuffer()!);
  writeFileSync(join(dir, "answer.bin"), await response.body());
  const read = JSON.parse(
    execFileSync(process.env.CIPHERFOLD_PYTHON ?? "python3", [
      join(__dirname, "../../server/tests/independent/he_client.py"), "decrypt", keyFile, join(dir, "request.bin"), join(dir, "answer.bin"),
    ]).toString(),
  );
  // The row as docs/he.md quantises it: standardised, clamped to ±input_range, scaled, rounded half away from zero.
  const offer = await (await p.request.get(`/api/models/${model}/he`)).json();
  const scale = (2 ** (offer.spec.input_bits - 1) - 1) / offer.spec.input_range;
  const expected = offer.preprocessor.codings.map((c: { column: string; mean: number; std: number }) => {
    const x = Math.max(-offer.spec.input_range, Math.min(offer.spec.input_range, (Number(row[c.column as keyof typeof row]) - c.mean) / c.std)) * scale;
    return Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
  });
  expect(read.inputs).toEqual([expected]);
  const scores: number[] = read.scores[0];
  expect(offer.labels[scores.indexOf(Math.max(...scores))]).toBe("virginica");

  // The CLI, natively, with the same key file: the same prediction, and no new key made.
  writeFileSync(join(dir, "row.csv"), `${Object.keys(row).join(",")}\n${Object.values(row).join(",")}\n`);
  const cli = spawnSync(
    process.env.CIPHERFOLD_BIN!,
    ["he", "predict", "--server", baseURL, "--model", model, "--input", join(dir, "row.csv"), "--key", keyFile, "--username", user],
    { env: { ...process.env, CIPHERFOLD_PASSWORD: password }, encoding: "utf8" },
  );
  expect(cli.status, cli.stderr).toBe(0);
  expect(cli.stderr).not.toContain("made a new key");
  expect(cli.stdout).toContain("virginica");

  // Saving the key gives back the same 256 bytes.
  await p.getByRole("button", { name: "Save the key to a file" }).click();
  const [download] = await Promise.all([p.waitForEvent("download"), p.getByRole("link", { name: "Download cipherfold-he.key" }).click()]);
  expect(readFileSync((await download.path())!).equals(readFileSync(keyFile))).toBe(true);
  if (shots) await p.locator("#encrypted").screenshot({ path: `${shots}/encrypted-key-desktop.png` });
  expect(errors).toEqual([]);
});
