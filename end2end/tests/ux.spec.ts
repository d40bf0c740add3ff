import { test, expect, type BrowserContext, type Page } from "@playwright/test";
import { join } from "node:path";
import { gotoHydrated, uploadThroughPage, watchErrors } from "./helpers";

// The rough edges a new user hit (issue: a product people enjoy on a phone and a desktop),
// each guarded here: the header at a phone's and a desktop's width, a second press of "Seal
// and upload", offline pages, file inputs before hydration, and a test row left empty.

test.describe.configure({ mode: "serial" });

const password = "a user experience password";
const user = "nadia.ux";
const phone = { width: 390, height: 844 };
const desktop = { width: 1280, height: 900 };
const iris = join(__dirname, "../../app/tests/data/iris.csv");
const shots = process.env.CIPHERFOLD_SCREENSHOTS;

const fits = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

let model = "";
/** The first test's signed-in cookies, so the others need no login (logins are rate-limited). */
let signedIn: Awaited<ReturnType<BrowserContext["storageState"]>>;

test("signed in, every page fits a phone and the header folds into a menu", async ({ browser }) => {
  test.setTimeout(180_000);
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  const r = await page.request.post("/api/auth/register", {
    data: { username: user, email: `${user}@example.org`, password, domain: "healthcare", subdomain: "oncology" },
  });
  expect(r.status()).toBe(201);
  expect((await page.request.post("/api/auth/login", { data: { username: user, password } })).status()).toBe(200);
  signedIn = await context.storageState();
  await uploadThroughPage(page, iris, "nadia's dataset passphrase");
  const [dataset] = await (await page.request.get("/api/datasets")).json();
  const job = await (await page.request.post("/api/jobs", { data: { dataset_ids: [dataset.id], target: "species", model: { kind: "logistic" } } })).json();
  await expect(async () => {
    model = (await (await page.request.get(`/api/jobs/${job.id}`)).json()).model_id ?? "";
    expect(model).not.toBe("");
  }).toPass({ timeout: 60_000 });

  const pages = ["/", "/datasets", "/datasets/new", `/datasets/${dataset.id}`, "/jobs", "/jobs/new", `/jobs/${job.id}`, "/models",
    `/models/${model}`, "/federations", "/federations/new", "/analytics", "/profile", "/audit"];
  for (const size of [phone, desktop]) {
    await page.setViewportSize(size);
    for (const path of pages) {
      await gotoHydrated(page, path);
      expect(await fits(page), `${path} at ${size.width} px is wider than the screen`).toBe(true);
    }
  }

  // A phone: the brand and a "Menu" button; the sections open below it.
  await page.setViewportSize(phone);
  await gotoHydrated(page, "/models");
  const nav = page.getByRole("navigation", { name: "Main" });
  const menu = nav.getByRole("button", { name: "Menu" });
  await expect(menu).toHaveAttribute("aria-expanded", "false");
  await expect(nav.getByRole("link", { name: "Datasets" })).toBeHidden();
  if (shots) await page.screenshot({ path: `${shots}/header-phone-closed.png` });
  await menu.click();
  await expect(menu).toHaveAttribute("aria-expanded", "true");
  await expect(nav.getByRole("link", { name: "Datasets" })).toBeVisible();
  await expect(nav.getByTestId("who")).toContainText(`Signed in as ${user}`);
  await expect(nav.getByRole("button", { name: "Log out" })).toBeVisible();
  expect(await fits(page)).toBe(true);
  if (shots) await page.screenshot({ path: `${shots}/header-phone-open.png` });
  // Escape closes it and gives the focus back to the button; keyboard alone opens it.
  await page.keyboard.press("Escape");
  await expect(menu).toHaveAttribute("aria-expanded", "false");
  await expect(menu).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(menu).toHaveAttribute("aria-expanded", "true");
  // Following a link closes it.
  await nav.getByRole("link", { name: "Datasets" }).click();
  await expect(page).toHaveURL(/\/datasets$/);
  await expect(menu).toHaveAttribute("aria-expanded", "false");

  // A desktop: one row, no menu button.
  await page.setViewportSize(desktop);
  await gotoHydrated(page, "/models");
  await expect(menu).toBeHidden();
  const brand = await nav.getByRole("link", { name: "Cipherfold" }).boundingBox();
  for (const name of ["Datasets", "Federations", "Analytics"]) {
    const link = await nav.getByRole("link", { name }).boundingBox();
    expect(Math.abs(link!.y + link!.height / 2 - (brand!.y + brand!.height / 2)), `${name} is on the brand's row`).toBeLessThan(12);
  }
  const logout = await nav.getByRole("button", { name: "Log out" }).boundingBox();
  expect(Math.abs(logout!.y + logout!.height / 2 - (brand!.y + brand!.height / 2))).toBeLessThan(12);
  if (shots) await page.screenshot({ path: `${shots}/header-desktop.png` });
  expect(errors).toEqual([]);
  await context.close();
});

test("from a dataset to a job to its model, by name", async ({ browser }) => {
  const context = await browser.newContext({ storageState: signedIn });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const info = await (await page.request.get(`/api/models/${model}`)).json();
  // The model page names its job by title and links to it; the job page links back and names the parameters.
  await gotoHydrated(page, `/models/${model}`);
  await expect(page.getByTestId("model-job")).toHaveText("Logistic regression on iris");
  await page.getByTestId("model-job").click();
  await expect(page).toHaveURL(new RegExp(`/jobs/${info.job_id}$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Logistic regression on iris");
  await expect(page.getByTestId("job-params")).toContainText("mean score 0.");
  // The score chart: its axis ends at 1, and it reads on a phone (looked at in the screenshots).
  const labels = (await page.getByTestId("score-chart").locator("svg text").allTextContents()).map((l) => l.trim());
  expect(labels).toContain("1");
  expect(labels.filter((l) => /^1\.\d/.test(l)), "nothing above 1").toEqual([]);
  if (shots) {
    await page.getByTestId("score-chart").screenshot({ path: `${shots}/score-chart-desktop.png` });
    await page.setViewportSize(phone);
    await page.getByTestId("score-chart").screenshot({ path: `${shots}/score-chart-phone.png` });
    await page.setViewportSize(desktop);
  }
  await page.getByTestId("job-model").click();
  await expect(page).toHaveURL(new RegExp(`/models/${model}$`));
  // A dataset page starts a job on that dataset, and the form says what is ticked.
  const [dataset] = await (await page.request.get("/api/datasets")).json();
  await gotoHydrated(page, `/datasets/${dataset.id}`);
  await page.getByRole("link", { name: "Train a model on this dataset" }).click();
  await expect(page).toHaveURL(new RegExp(`/jobs/new\\?dataset=${dataset.id}$`));
  await expect(page.getByTestId("preselected")).toContainText(`“${dataset.name}”, the dataset you came from, is ticked`);
  await expect(page.locator(`#ds-${dataset.id}`)).toBeChecked();
  // Each kind is explained in a sentence; a kind that cannot learn the target says so at once.
  const kindSelect = page.getByLabel("Model", { exact: true });
  await kindSelect.selectOption("linear");
  await expect(page.getByTestId("kind-hint")).toContainText("Predicts a number as a weighted sum of the inputs");
  await expect(page.locator("#j-kind-warning")).toContainText("Linear regression predicts numbers, and “species” holds categories");
  await kindSelect.selectOption("logistic");
  await expect(page.getByTestId("kind-hint")).toContainText("Predicts a category");
  await expect(page.locator("#j-kind-warning")).toBeHidden();
  // Home shows the work and what is next.
  await gotoHydrated(page, "/");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Welcome back, ${user}`);
  await expect(page.getByRole("link", { name: "Logistic regression on iris" })).toBeVisible();
  expect(errors).toEqual([]);
  await context.close();
});

test("a second press of “Seal and upload” does not store the file twice without asking", async ({ browser }) => {
  const context = await browser.newContext({ storageState: signedIn });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const before = (await (await page.request.get("/api/datasets")).json()).length;
  const fileInput = page.getByLabel("Data file (CSV, JSON or Excel .xlsx)");
  const seal = page.getByRole("button", { name: "Seal and upload" });
  // The first test uploaded iris.csv minutes ago: the same file again is named, and the
  // choice stays the person's. A CSV file has no sheets to choose.
  await gotoHydrated(page, "/datasets/new");
  await fileInput.setInputFiles(iris);
  await expect(page.locator("#u-table table")).toBeVisible();
  await expect(page.getByLabel("Excel sheet (leave empty for the first sheet)")).toBeHidden();
  await seal.click();
  const warning = page.locator("#u-warning");
  await expect(warning).toContainText(/You uploaded “iris” \(.+\) (less than a minute|\d+ minutes) ago\. Press “Seal and upload” again to store a second copy/);
  await expect(warning.getByRole("link", { name: "open the one you uploaded" })).toBeVisible();
  expect((await (await page.request.get("/api/datasets")).json()).length).toBe(before);
  await seal.click();
  await expect(page.getByRole("link", { name: "View the dataset" })).toBeVisible({ timeout: 30_000 });
  expect((await (await page.request.get("/api/datasets")).json()).length).toBe(before + 1);
  // Done: the form gives way to the result, so the button cannot be pressed a second time.
  await expect(page.getByRole("status").filter({ hasText: "only ciphertext left this browser" })).toBeVisible();
  await expect(page.locator("#upload-form")).toBeHidden();
  await expect(seal).toBeHidden();
  await page.getByRole("button", { name: "Upload another" }).click();
  await expect(page.locator("#upload-form")).toBeVisible();
  await expect(fileInput).toBeFocused();
  await expect(page.getByLabel("Dataset name")).toHaveValue("");
  await expect(page.locator("#u-table")).toHaveCount(0);
  expect(errors).toEqual([]);
  await context.close();
});

test("file inputs wait for the page's code: disabled in the server's HTML, enabled once hydrated", async ({ browser }) => {
  const context = await browser.newContext({ storageState: signedIn });
  const page = await context.newPage();
  const html = await (await page.request.get("/datasets/new")).text();
  expect(html).toMatch(/<input id="u-file"[^>]*disabled/);
  await gotoHydrated(page, "/datasets/new");
  await expect(page.getByLabel("Data file (CSV, JSON or Excel .xlsx)")).toBeEnabled();
  await context.close();
});

test("a test row with every input empty is refused; a partly empty one says what was filled in", async ({ browser }) => {
  const context = await browser.newContext({ storageState: signedIn });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await gotoHydrated(page, `/models/${model}`);
  const form = page.getByTestId("test-row");
  await form.getByRole("button", { name: "Predict" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Type at least one value" })).toBeVisible();
  await expect(page.getByTestId("prediction")).toHaveText("");
  await page.locator("#t-petal_length_cm").fill("5.6");
  await form.getByRole("button", { name: "Predict" }).click();
  await expect(page.getByTestId("prediction")).toContainText("3 of 4 inputs were empty and filled in from the training rows");
  expect(errors).toEqual([]);
  await context.close();
});

test("offline, a page that needs the server says so, keeps the session, and nothing breaks", async ({ browser }) => {
  test.setTimeout(120_000);
  const context = await browser.newContext({ storageState: signedIn });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await gotoHydrated(page, "/models");
  await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    const sw = reg.active!;
    if (sw.state !== "activated") await new Promise<void>((ok) => sw.addEventListener("statechange", () => sw.state === "activated" && ok()));
  });
  await page.reload();
  await context.setOffline(true);
  // Following a link with the page loaded: the page says it needs a connection; no login page.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Datasets" }).click();
  await expect(page.getByTestId("offline").first()).toContainText("You are offline, or the server cannot be reached");
  await expect(page.getByTestId("offline").first()).toContainText("You are not signed out");
  await expect(page).not.toHaveURL(/login/);
  // Reloading any address but home: the offline page, not another page's HTML.
  for (const path of ["/login", "/models"]) {
    await page.goto(path);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("You are offline");
    await expect(page.getByText("This page needs a connection to the server. Being offline does not sign you out")).toBeVisible();
    await expect(page).toHaveURL(new RegExp(`${path}$`));
  }
  await page.setViewportSize(phone);
  expect(await fits(page)).toBe(true);
  if (shots) await page.screenshot({ path: `${shots}/offline-phone.png` });
  // Back online, "Try again" opens the page, still signed in.
  await context.setOffline(false);
  await page.getByRole("link", { name: "Try again" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Models");
  await expect(page.getByTestId("who")).toContainText(user);
  // The browser reports failed loads while offline (net::ERR_INTERNET_DISCONNECTED); nothing else.
  expect(errors.filter((e) => !e.includes("ERR_INTERNET_DISCONNECTED"))).toEqual([]);
  await context.close();
});
