import { test, expect } from "@playwright/test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gotoHydrated, uploadThroughPage } from "../tests/helpers";

// Encrypted prediction in Chromium (docs/he.md), as a person gets it on a logistic model's
// page (iris): 1,000 typed-row predictions one after another, each encrypted in the page's
// worker (tfhe and the mask stream compiled to wasm), scored by the server, decrypted in the
// worker. The worker's own figures (encrypting, the request, decrypting) and the page's
// click-to-answer time, p50 and p95; the baseline in the same run is 1,000 plaintext
// predictions of the same row through the same page's "Test one row". Then a 1,000-row file.
// scripts/bench-he.sh runs it (with the native loopback bench beside it).

const password = "an encrypted benchmark password";
const user = "bench.he";
const row = { sepal_length_cm: "6.7", sepal_width_cm: "3.1", petal_length_cm: "5.6", petal_width_cm: "2.4" };
const N = Number(process.env.CIPHERFOLD_BENCH_N ?? 1000);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.round((xs.length - 1) * p)];
const line = (what: string, xs: number[], base: number) =>
  console.log(`  ${what.padEnd(28)} p50 ${pct(xs, 0.5).toFixed(2).padStart(8)} ms   p95 ${pct(xs, 0.95).toFixed(2).padStart(8)} ms   ${(pct(xs, 0.5) / base).toFixed(2).padStart(6)}× plaintext`);

test("encrypted prediction in Chromium: 1,000 rows one by one, and a file", async ({ page }) => {
  test.setTimeout(600_000);
  const r = await page.request.post("/api/auth/register", {
    data: { username: user, email: `${user}@example.org`, password, domain: "finance", subdomain: "credit-risk" },
  });
  expect(r.status()).toBe(201);
  expect((await page.request.post("/api/auth/login", { data: { username: user, password } })).status()).toBe(200);
  const iris = join(__dirname, "../../app/tests/data/iris.csv");
  await uploadThroughPage(page, iris, "the benchmark's dataset passphrase");
  const [dataset] = await (await page.request.get("/api/datasets")).json();
  const job = await (await page.request.post("/api/jobs", { data: { dataset_ids: [dataset.id], target: "species", model: { kind: "logistic" } } })).json();
  let model = "";
  await expect(async () => {
    model = (await (await page.request.get(`/api/jobs/${job.id}`)).json()).model_id ?? "";
    expect(model).not.toBe("");
  }).toPass({ timeout: 60_000 });
  await gotoHydrated(page, `/models/${model}`);
  for (const [name, value] of Object.entries(row)) {
    await page.locator(`#t-${name}`).fill(value);
    await page.locator(`#e-${name}`).fill(value);
  }

  // The baseline: the same row predicted in plaintext through the page.
  const plainButton = page.getByTestId("test-row").getByRole("button", { name: "Predict" });
  const plain: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await Promise.all([page.waitForResponse((q) => q.url().includes("/api/ui/predict")), plainButton.click()]);
    await expect(page.getByTestId("prediction")).toContainText("Prediction:");
    await expect(plainButton).toBeEnabled();
    plain.push(performance.now() - t);
  }

  const button = page.getByRole("button", { name: "Encrypt and predict" });
  const cost = page.getByTestId("he-cost");
  const [enc, net, dec, total] = [[], [], [], []] as number[][];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await button.click();
    const text = (await cost.textContent({ timeout: 60_000 }))!;
    total.push(performance.now() - t);
    const m = text.match(/([\d.]+) ms encrypting, ([\d.]+) ms on the server and the network, ([\d.]+) ms decrypting/)!;
    enc.push(Number(m[1]));
    net.push(Number(m[2]));
    dec.push(Number(m[3]));
  }
  await expect(page.getByTestId("he-prediction")).toContainText("Prediction: virginica");
  const base = pct(plain, 0.5);
  console.log(`Chromium, iris logistic (4 features, 3 classes), ${N} predictions one after another:`);
  line("encrypt (worker, wasm)", enc, base);
  line("request (server, loopback)", net, base);
  line("decrypt (worker, wasm)", dec, base);
  line("click to answer on the page", total, base);
  console.log(`  plaintext "Predict" click to answer p50 ${base.toFixed(2)} ms, p95 ${pct(plain, 0.95).toFixed(2)} ms (the baseline)`);

  // A file of 1,000 rows (iris repeated), encrypted in the worker, one request.
  const [header, ...lines] = readFileSync(iris, "utf8").trim().split("\n");
  const file = join(mkdtempSync(join(tmpdir(), "cipherfold-hebench-")), "rows.csv");
  writeFileSync(file, [header, ...Array.from({ length: 1000 }, (_, i) => lines[i % lines.length])].join("\n") + "\n");
  const t = performance.now();
  await page.getByLabel("Or a file of rows, encrypted row by row in this browser (CSV, JSON or Excel .xlsx)").setInputFiles(file);
  await expect(cost).toContainText("1000 rows encrypted in this browser", { timeout: 300_000 });
  console.log(`  a 1,000-row file: ${(await cost.textContent())!.replace(/^.*?: /, "")} ${((performance.now() - t) / 1000).toFixed(2)} s from picking the file to the table.`);
});
