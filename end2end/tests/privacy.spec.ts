import { test, expect, type Browser, type Page } from "@playwright/test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gotoHydrated, uploadThroughPage, watchErrors } from "./helpers";

// Differential privacy as people meet it: a private training job from the job form (the
// accountant's preview as they type, a refusal at its field, the ε spent on the job, the model
// and the dashboard), and a private federation two browsers take part in until its budget
// stops it, each participant seeing its own ledger there and on its profile. Desktop and a
// 390 px phone. Its own area (education · student-success).

test.describe.configure({ mode: "serial" });

const password = "a long privacy password";
const area = { domain: "education", subdomain: "student-success" };
const shots = process.env.CIPHERFOLD_SCREENSHOTS;

async function register(page: Page, username: string) {
  const r = await page.request.post("/api/auth/register", { data: { username, email: `${username}@example.org`, password, ...area } });
  expect(r.status()).toBe(201);
}

async function loggedIn(browser: Browser, username: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  const r = await page.request.post("/api/auth/login", { data: { username, password } });
  expect(r.status()).toBe(200);
  return page;
}

function noSideScroll(page: Page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
}

test("a private job: the preview answers as one types, a bad ε is named, the ε spent is shown everywhere", async ({ browser, page }) => {
  test.setTimeout(180_000);
  await register(page, "gina.dp");
  const p = await loggedIn(browser, "gina.dp");
  const errors = watchErrors(p);
  await uploadThroughPage(p, join(__dirname, "../../app/tests/data/iris.csv"), "gina's dataset passphrase");
  await gotoHydrated(p, "/jobs/new");
  await p.getByLabel("Target column (what the model learns to predict)").selectOption("species");
  await p.getByLabel("Model", { exact: true }).selectOption("logistic");
  await p.getByLabel("Train with differential privacy (DP-SGD; logistic regression or the DQN network)").check();
  // The preview: the noise a target ε needs on these 150 rows, from the server's accountant.
  const preview = p.getByTestId("privacy-preview");
  await p.getByLabel("Target ε (privacy budget)").fill("2");
  await expect(preview).toContainText(/Noise multiplier σ = \d+\.\d{3}: ε = (1\.99\d|2\.000) at δ = 1e-5, over 94 steps, each using 21\.3 % of the rows/);
  await p.getByLabel("Epochs (passes over the rows)").fill("10");
  await expect(preview).toContainText("over 47 steps");
  // ε = 0 cannot be met: the preview says so, and the job is refused at the field.
  await p.getByLabel("Target ε (privacy budget)").fill("0");
  await expect(preview).toContainText("The accountant cannot answer");
  await p.getByRole("button", { name: "Start training" }).click();
  await expect(p.locator("#j-dp-epsilon-error")).toContainText("must be above 0");
  await p.setViewportSize({ width: 390, height: 844 });
  expect(await noSideScroll(p)).toBe(true);
  if (shots) await p.screenshot({ path: `${shots}/private-job-form-phone.png`, fullPage: true });
  await p.setViewportSize({ width: 1280, height: 800 });
  await p.getByLabel("Target ε (privacy budget)").fill("2");
  await p.getByRole("button", { name: "Start training" }).click();
  await p.waitForURL(/\/jobs\/[0-9a-f]{32}$/);
  await expect(p.getByTestId("job-status")).toHaveText("Finished", { timeout: 120_000 });
  const spent = p.getByTestId("job-privacy");
  await expect(spent).toContainText(/^ε = (1\.99\d|2\.000) at δ = 1e-5: DP-SGD with noise multiplier σ = \d+\.\d{3} \(the smallest that meets the target ε\)/);
  await expect(spent).toContainText("47 steps sampling 21.3 % of the rows each");
  if (shots) await p.screenshot({ path: `${shots}/private-job.png`, fullPage: true });
  // The model version keeps it; the dashboard plots score against ε.
  const jobs = await (await p.request.get("/api/jobs")).json();
  await gotoHydrated(p, `/models/${jobs[0].model_id}`);
  await expect(p.getByTestId("model-privacy")).toContainText(/ε = (1\.99\d|2\.000) at δ = 1e-5/);
  await gotoHydrated(p, "/analytics");
  await expect(p.getByTestId("privacy-chart")).toBeVisible();
  await expect(p.getByTestId("performance-table")).toContainText(/(1\.99|2\.00)/);
  // The two refusals met on purpose (the preview's and the form's, both 422) are the only complaints.
  expect(errors).toEqual(Array(2).fill("Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"));
});

test("a private federation stops at its budget; each participant sees its ledger on the page and its profile", async ({ browser, page }) => {
  test.setTimeout(240_000);
  const dir = mkdtempSync(join(tmpdir(), "cipherfold-dp-"));
  const [header, ...rows] = readFileSync(join(__dirname, "../../app/tests/data/iris.csv"), "utf8").trim().split("\n");
  const files = [0, 1].map((k) => {
    const file = join(dir, `half${k + 1}.csv`);
    writeFileSync(file, `${header}\n${rows.filter((_, i) => i % 2 === k).join("\n")}\n`);
    return file;
  });
  for (const u of ["hana.dp", "ivan.dp", "jona.dp"]) await register(page, u);

  // The owner declares it on the page: σ = 2, q = 1, a budget that two of the five rounds fit.
  const declare = await loggedIn(browser, "hana.dp");
  await gotoHydrated(declare, "/federations/new");
  await declare.getByLabel("Name").fill("private iris");
  await declare.getByLabel("Sample file with the columns (CSV, JSON or Excel .xlsx)").setInputFiles(files[0]);
  await expect(declare.getByText("5 columns read from the sample; nothing left this browser.")).toBeVisible();
  await declare.getByLabel("Training rounds").fill("5");
  await declare.getByLabel("Participants a round waits for").fill("2");
  await declare.getByLabel("Secure-aggregation threshold").fill("2");
  await declare.getByLabel("Seconds each stage of a round waits for late participants").fill("30");
  await declare.getByLabel("Require differential privacy for every participant (DP-FedAvg)").check();
  await declare.getByLabel("Noise multiplier σ").fill("2");
  await declare.getByLabel("Privacy budget ε").fill("0.5");
  // One round already costs more than 0.5: refused at the budget's field.
  await declare.getByRole("button", { name: "Declare the federation" }).click();
  await expect(declare.locator("#fed-dp-epsilon-error")).toContainText("one round already spends ε");
  const steps = await (await declare.request.get("/api/privacy/epsilon?sampling_rate=1&noise_multiplier=2&steps=2&delta=1e-5")).json();
  const three = await (await declare.request.get("/api/privacy/epsilon?sampling_rate=1&noise_multiplier=2&steps=3&delta=1e-5")).json();
  const budget = ((steps.epsilon + three.epsilon) / 2).toFixed(3);
  await declare.getByLabel("Privacy budget ε").fill(budget);
  await expect(declare.getByTestId("privacy-preview")).toContainText(/ε = \d+\.\d{3} at δ = 1e-5, over 5 steps/);
  await expect(declare.getByTestId("privacy-rounds")).toHaveText(`The budget ε = ${Number(budget)} allows 2 of the 5 training rounds; training stops there.`);
  await declare.setViewportSize({ width: 390, height: 844 });
  expect(await noSideScroll(declare)).toBe(true);
  if (shots) await declare.screenshot({ path: `${shots}/private-federation-form-phone.png`, fullPage: true });
  await declare.setViewportSize({ width: 1280, height: 800 });
  await declare.getByRole("button", { name: "Declare the federation" }).click();
  await expect(declare.getByRole("heading", { level: 1 })).toHaveText("private iris");
  const id = declare.url().split("/").pop()!;
  await expect(declare.getByTestId("federation-privacy")).toContainText(`ε spent so far 0.000 of the budget ${Number(budget)} at δ = 1e-5`);

  // Two participants, one at phone width, take part from their browsers.
  const pages: Page[] = [];
  for (const [i, u] of ["ivan.dp", "jona.dp"].entries()) {
    const p = await loggedIn(browser, u);
    if (i === 1) await p.setViewportSize({ width: 390, height: 844 });
    await gotoHydrated(p, `/federations/${id}`);
    await p.getByRole("button", { name: "Join this federation" }).click();
    await expect(p.getByTestId("membership")).toContainText("You have joined");
    await p.getByLabel("Your data file, read in this browser and never sent (CSV, JSON or Excel .xlsx)").setInputFiles(files[i]);
    await expect(p.locator("#f-status")).toContainText("Your file fits this federation: 75 rows");
    await p.getByRole("button", { name: "Take part in the rounds with this file" }).click();
    pages.push(p);
  }
  // Statistics, two training rounds, then the evaluation: the budget stopped the third.
  const table = declare.getByTestId("rounds-table").locator("tbody tr");
  await expect(declare.getByTestId("round-status")).toHaveText("Finished.", { timeout: 180_000 });
  await expect(table).toHaveCount(4);
  await expect(table.nth(1)).toContainText("training 1 of 5");
  await expect(table.nth(2)).toContainText("training 2 of 5");
  await expect(table.nth(3)).toContainText("evaluation");
  const e1 = Number(await table.nth(1).locator("td").nth(4).textContent());
  const e2 = Number(await table.nth(2).locator("td").nth(4).textContent());
  expect(e1).toBeLessThan(e2);
  expect(e2).toBeCloseTo(steps.epsilon, 3);
  await expect(declare.getByTestId("epsilon-chart").locator("circle")).toHaveCount(2 + 2);
  if (shots) await declare.screenshot({ path: `${shots}/private-federation.png`, fullPage: true });
  expect(await noSideScroll(pages[1])).toBe(true);
  if (shots) await pages[1].screenshot({ path: `${shots}/private-federation-phone.png`, fullPage: true });
  for (const p of pages) {
    await expect(p.getByTestId("privacy-ledger")).toContainText(
      `Your privacy in this federation: ε = ${steps.epsilon.toFixed(3)} of the budget ${Number(budget)} at δ = 1e-5 after 2 training rounds; your update was in 2 rounds`,
    );
    await gotoHydrated(p, "/profile");
    const ledger = p.getByTestId("privacy-ledgers");
    await expect(ledger).toContainText("private iris");
    await expect(ledger).toContainText(steps.epsilon.toFixed(3));
    await expect(ledger).toContainText("2 of 2");
  }
  expect(await noSideScroll(pages[1])).toBe(true);
  if (shots) await pages[1].screenshot({ path: `${shots}/private-profile-phone.png`, fullPage: true });
});
