import { test, expect, type Cookie, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gotoHydrated, uploadThroughPage, watchErrors } from "./helpers";

test.describe.configure({ mode: "serial" });

const user = { username: "frank.e2e", password: "frank's long password", passphrase: "frank's dataset passphrase" };
const shots = process.env.CIPHERFOLD_SCREENSHOTS;

// One login for the whole file, its cookies reused: logins are rate limited per account.
let session: Cookie[] | undefined;

async function login(page: Page) {
  if (session) {
    await page.context().addCookies(session);
    return;
  }
  const r = await page.request.post("/api/auth/login", { data: { username: user.username, password: user.password } });
  expect(r.status()).toBe(200);
  session = await page.context().cookies();
}

/** Starts a job from the form, its parameters typed in their labelled fields. */
async function startJob(page: Page, kind: string, fields: Record<string, string>) {
  await gotoHydrated(page, "/jobs/new");
  await page.getByLabel("iris (frank.e2e, 150 rows, 5 columns)").check();
  await page.getByLabel("Target column (what the model learns to predict)").selectOption("species");
  await page.getByLabel("Model", { exact: true }).selectOption(kind);
  for (const [label, value] of Object.entries(fields)) await page.getByLabel(label, { exact: true }).fill(value);
  await page.getByLabel("Cross-validation folds").fill("5");
  await page.getByRole("button", { name: "Start training" }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f]{32}$/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true", { timeout: 30_000 });
}

test("register and upload iris", async ({ page }) => {
  const r = await page.request.post("/api/auth/register", {
    data: { username: user.username, email: "frank@example.org", password: user.password, domain: "healthcare", subdomain: "oncology" },
  });
  expect(r.status()).toBe(201);
  await login(page);
  // Shared in its area, so that the owner can consent to joint training below.
  await uploadThroughPage(page, join(__dirname, "../../app/tests/data/iris.csv"), user.passphrase, true);
});

test("a bad parameter is shown next to its field and starts nothing", async ({ page }) => {
  await login(page);
  await gotoHydrated(page, "/jobs/new");
  await page.getByLabel("Target column (what the model learns to predict)").selectOption("species");
  // A labelled field: what does not read is said at once; what is out of range, on submit.
  await page.getByLabel("Trees", { exact: true }).fill("many");
  await page.getByLabel("Trees", { exact: true }).press("Tab");
  await expect(page.locator("#j-p-trees-error")).toHaveText("enter a whole number");
  await page.getByLabel("Trees", { exact: true }).fill("0");
  await page.getByRole("button", { name: "Start training" }).click();
  await expect(page.locator("#j-p-trees-error")).toContainText("between 1 and 5000");
  // The JSON under "Advanced" holds what the fields wrote, and takes every parameter.
  await page.getByText("Advanced: parameters and search space as JSON").click();
  await expect(page.getByLabel("Parameters (JSON)")).toHaveValue('{"trees":0}');
  await page.getByLabel("Parameters (JSON)").fill('{"tres": 10}');
  await page.getByRole("button", { name: "Start training" }).click();
  await expect(page.locator("#j-params-error")).toContainText("unknown field `tres`");
  await page.getByLabel("Model", { exact: true }).selectOption("linear");
  await page.getByRole("button", { name: "Start training" }).click();
  await expect(page.locator("#j-kind-error")).toContainText("categorical");
  const jobs = await (await page.request.get("/api/jobs")).json();
  expect(jobs).toEqual([]);
});

test("a random forest on iris: the chart and the progress bar follow the job to the end", async ({ page }) => {
  const errors = watchErrors(page);
  await login(page);
  // Enough trees that the job outlasts the job page's load and hydration, so its live events
  // are seen: with 300 the job once finished first (the page then shows all five folds at once).
  await startJob(page, "forest", { Trees: "2000" });
  const chart = page.getByTestId("score-chart");
  const progress = page.locator("#job-progress");
  // Live: fold points appear one by one while the job runs.
  await expect(chart).toContainText(/[1-4] folds? scored so far/, { timeout: 60_000 });
  const midway = Number(await progress.getAttribute("value"));
  expect(midway).toBeLessThan(100);
  if (shots) await page.screenshot({ path: `${shots}/job-running.png`, fullPage: true });
  await expect(page.getByTestId("job-status")).toHaveText("Finished", { timeout: 120_000 });
  await expect(chart).toContainText("5 folds scored; the last scored");
  await expect(chart.locator("svg circle")).toHaveCount(5);
  await expect(progress).toHaveAttribute("value", "100");
  const accuracy = Number(await page.getByTestId("metrics").locator("dd").first().textContent());
  expect(accuracy).toBeGreaterThan(0.9);
  await expect(page.getByRole("table", { name: /Confusion matrix/ })).toBeVisible();
  await expect(page.getByRole("button", { name: "Cancel this job" })).toBeHidden();
  if (shots) await page.screenshot({ path: `${shots}/job-finished.png`, fullPage: true });
  await gotoHydrated(page, "/jobs");
  await expect(page.getByTestId("job-table").locator("tbody tr")).toHaveCount(1);
  await expect(page.getByTestId("job-table")).toContainText("Finished");
  expect(errors).toEqual([]);
});

test("a queued job's page follows it to running; a long DQN job is cancelled from its page", async ({ page }) => {
  await login(page);
  // The one worker takes the first DQN; the second waits in the queue.
  await startJob(page, "dqn", { Epochs: "100000" });
  const first = page.url().split("/").pop();
  await expect(page.getByTestId("job-status")).toHaveText("Running", { timeout: 30_000 });
  await startJob(page, "dqn", { Epochs: "100000" });
  await expect(page.getByTestId("job-status")).toHaveText("Queued");
  // Freeing the worker starts the second job: its open page shows it without a reload.
  expect((await page.request.post(`/api/jobs/${first}/cancel`)).status()).toBe(200);
  await expect(page.getByTestId("job-status")).toHaveText("Running", { timeout: 30_000 });
  await page.getByRole("button", { name: "Cancel this job" }).click();
  await expect(page.getByTestId("job-status")).toHaveText("Cancelled", { timeout: 5_000 });
  await expect(page.getByRole("button", { name: "Cancel this job" })).toBeHidden();
  const jobs = await (await page.request.get("/api/jobs")).json();
  expect(jobs.map((j: any) => j.status).sort()).toEqual(["cancelled", "cancelled", "succeeded"]);
});

test("the model: test one row, predict iris.csv from a file, download the predictions; the dashboard", async ({ page }) => {
  const errors = watchErrors(page);
  await login(page);
  await gotoHydrated(page, "/models");
  await expect(page.getByTestId("model-table").first()).toContainText("Random forest");
  await expect(page.getByTestId("best").first()).toBeVisible();
  await page.getByRole("link", { name: "v1", exact: true }).first().click();
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true", { timeout: 30_000 });
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Random forest");
  await expect(page.getByRole("table", { name: /Confusion matrix/ })).toBeVisible();
  if (shots) await page.screenshot({ path: `${shots}/model.png`, fullPage: true });

  await page.getByLabel("sepal_length_cm (number; empty if unknown)").fill("5.1");
  await page.getByLabel("sepal_width_cm (number; empty if unknown)").fill("3.5");
  await page.getByLabel("petal_length_cm (number; empty if unknown)").fill("1.4");
  await page.getByLabel("petal_width_cm (number; empty if unknown)").fill("0.2");
  await page.getByRole("button", { name: "Predict", exact: true }).click();
  await expect(page.getByTestId("prediction")).toContainText("Prediction: setosa");

  const download = page.getByRole("link", { name: "Download the predictions (CSV)" });
  await expect(download, "nothing to download before a file is predicted").toBeHidden();
  await page.getByLabel("Rows to predict (CSV, JSON or Excel .xlsx, with the model's input columns)").setInputFiles(join(__dirname, "../../app/tests/data/iris.csv"));
  await expect(page.locator("#b-status")).toHaveText("Predicted 150 rows.", { timeout: 30_000 });
  await expect(page.locator("#b-table tbody tr")).toHaveCount(150);
  const [file] = await Promise.all([page.waitForEvent("download"), download.click()]);
  const csv = readFileSync(await file.path(), "utf8").trim().split("\n");
  expect(csv.length).toBe(151);
  expect(csv[0]).toBe("sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm,prediction,p(setosa) %,p(versicolor) %,p(virginica) %");
  expect(csv[1].split(",")[4]).toBe("setosa");
  const right = csv.slice(1).filter((line, i) => {
    const species = i < 50 ? "setosa" : i < 100 ? "versicolor" : "virginica";
    return line.split(",")[4] === species;
  }).length;
  expect(right).toBeGreaterThanOrEqual(145);

  // The area's dashboard.
  await gotoHydrated(page, "/analytics");
  await expect(page.getByTestId("history-chart").locator("svg")).toBeVisible();
  await expect(page.getByTestId("performance-table").locator("tbody tr").first()).toContainText("forest");
  await expect(page.getByTestId("contributions-table")).toContainText("frank.e2e");
  await page.getByRole("button", { name: "Newest" }).click();
  await expect(page.getByRole("button", { name: "Newest" })).toHaveAttribute("aria-pressed", "true");
  if (shots) await page.screenshot({ path: `${shots}/analytics.png`, fullPage: true });
  expect(errors).toEqual([]);
});

test("joint-training consent is given and withdrawn on the dataset page", async ({ page }) => {
  const errors = watchErrors(page);
  await login(page);
  const [iris] = await (await page.request.get("/api/datasets")).json();
  await gotoHydrated(page, `/datasets/${iris.id}`);
  const status = page.getByTestId("consent-status");
  await expect(status).toContainText("Only you can train on this dataset");
  await page.getByRole("button", { name: "Allow joint training" }).click();
  await expect(status).toContainText("You allowed joint training on");
  expect((await (await page.request.get(`/api/datasets/${iris.id}`)).json()).consent_at).toBeTruthy();
  // Recorded on the server: a fresh page load shows it.
  await gotoHydrated(page, `/datasets/${iris.id}`);
  await expect(status).toContainText("You allowed joint training on");
  await page.getByRole("button", { name: "Withdraw consent to joint training" }).click();
  await expect(status).toContainText("Only you can train on this dataset");
  expect((await (await page.request.get(`/api/datasets/${iris.id}`)).json()).consent_at ?? null).toBeNull();
  expect(errors).toEqual([]);
});

test("deleting a model version asks first; kept when declined, gone when confirmed", async ({ page }) => {
  const errors = watchErrors(page);
  await login(page);
  const [model] = await (await page.request.get("/api/models")).json();
  await gotoHydrated(page, `/models/${model.id}`);
  await page.getByRole("button", { name: "Delete this model version" }).click();
  await expect(page.getByRole("alert")).toContainText("cannot be undone");
  await page.getByRole("button", { name: "Keep it" }).click();
  await expect(page.getByRole("button", { name: "Delete this model version" })).toBeVisible();
  expect((await page.request.get(`/api/models/${model.id}`)).status()).toBe(200);
  await page.getByRole("button", { name: "Delete this model version" }).click();
  await page.getByRole("button", { name: "Yes, delete it" }).click();
  await page.waitForURL(/\/models$/);
  expect((await page.request.get(`/api/models/${model.id}`)).status()).toBe(404);
  expect(await (await page.request.get("/api/models")).json()).toEqual([]);
  await expect(page.getByRole("link", { name: "v1", exact: true })).toHaveCount(0);
  expect(errors).toEqual([]);
});
