import { test, expect, type Page } from "@playwright/test";
import { join } from "node:path";
import { gotoHydrated, watchErrors } from "./helpers";

// A new user by the pages alone, at a phone's and at a desktop's width: register → upload →
// train (the form's labelled fields, the class-codes question and a search preset) → the job's
// candidates → the model's regression charts → a prediction. Every step fits the screen, every
// chart's text is at least 12 px as drawn, and nothing logs an error.

const diabetes = join(__dirname, "../../app/tests/data/diabetes.csv");
const shots = process.env.CIPHERFOLD_SCREENSHOTS;

const fits = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

/** The smallest chart text on the page, in CSS pixels as drawn (font size × the SVG's scale). */
const smallestChartText = (page: Page) =>
  page.evaluate(() => {
    let least = Infinity;
    for (const svg of Array.from(document.querySelectorAll("figure.chart svg"))) {
      const box = (svg as SVGSVGElement).viewBox.baseVal;
      const scale = svg.getBoundingClientRect().width / box.width;
      for (const t of Array.from(svg.querySelectorAll("text"))) {
        if (!t.textContent?.trim()) continue;
        least = Math.min(least, parseFloat(t.getAttribute("font-size") ?? "0") * scale);
      }
    }
    return least;
  });

for (const [name, viewport] of [
  ["phone", { width: 390, height: 844 }],
  ["desktop", { width: 1280, height: 900 }],
] as const) {
  test(`a new user at a ${name}'s width: register, upload, train, read the model, predict`, async ({ browser }) => {
    test.setTimeout(240_000);
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const errors = watchErrors(page);
    const user = `walker.${name}`;
    const step = async (what: string) => {
      expect(await fits(page), `${what} at ${viewport.width} px is wider than the screen`).toBe(true);
      if (shots) await page.screenshot({ path: `${shots}/walk-${name}-${what}.png`, fullPage: true });
    };

    await gotoHydrated(page, "/register");
    await page.getByLabel("Username").fill(user);
    await page.getByLabel("Email").fill(`${user}@example.org`);
    await page.getByLabel("Password", { exact: true }).fill("a walking password");
    await page.getByLabel("Domain", { exact: true }).selectOption("healthcare");
    await page.getByLabel("Subdomain").selectOption("public-health");
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Welcome, ${user}`);
    await step("home");

    // Upload: sharing says what others see, of the dataset and of its models.
    await page.getByTestId("what-next").getByRole("link", { name: "Upload a dataset" }).click();
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
    await page.getByLabel("Data file (CSV, JSON or Excel .xlsx)").setInputFiles(diabetes);
    await expect(page.locator("#u-table table")).toBeVisible();
    await expect(page.getByTestId("sharing-explained")).toContainText("models trained on it are seen by your area");
    await page.getByLabel("Dataset key passphrase (at least 10 characters)").fill("a walker's passphrase");
    await page.getByLabel("The same passphrase again").fill("a walker's passphrase");
    await step("upload");
    await page.getByRole("button", { name: "Seal and upload" }).click();
    await page.getByRole("link", { name: "View the dataset" }).click({ timeout: 30_000 });
    await page.getByRole("link", { name: "Train a model on this dataset" }).click();
    await expect(page).toHaveURL(/\/jobs\/new\?dataset=/);
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");

    // The form: a numeric target for a forest asks what it holds; the fields say their defaults.
    await page.getByLabel("Target column (what the model learns to predict)").selectOption("progression");
    const question = page.getByTestId("task-question");
    await expect(question).toContainText("What does “progression” hold?");
    await expect(page.locator("#j-p-trees-hint")).toContainText("Default 100; a whole number from 1 to 5000");
    await page.getByRole("button", { name: "Start training" }).click();
    await expect(page.locator("#j-task-error")).toHaveText("say whether “progression” holds amounts or class codes");
    await page.getByLabel("Amounts or measurements: predict a number (regression)").check();
    await expect(page.locator("#j-task-error")).toHaveText("");
    await page.getByLabel("Trees", { exact: true }).fill("20");
    await page.getByLabel("Search for better parameters").selectOption("quick");
    await step("train");
    await page.getByRole("button", { name: "Start training" }).click();
    await page.waitForURL(/\/jobs\/[0-9a-f]{32}$/);
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");

    // The job: its two candidates side by side, the best marked in the chart and the table.
    await expect(page.getByTestId("job-status")).toHaveText("Finished", { timeout: 180_000 });
    const chart = page.getByTestId("score-chart");
    await expect(chart.locator("svg text").filter({ hasText: "Score per candidate" })).toHaveCount(1);
    await expect(chart.locator("svg circle")).toHaveCount(2);
    await expect(chart.locator("figcaption")).toHaveText(/^2 candidates scored over 10 folds; the best, candidate [12], scored 0\.\d{3} on average\.$/);
    const table = page.getByTestId("candidates-table");
    await expect(table.locator("tbody tr")).toHaveCount(2);
    await expect(table.locator("tbody tr.best")).toHaveCount(1);
    await expect(table.locator("tbody tr.best td").first()).toContainText("(best)");
    await expect(table).toContainText("max depth 6");
    expect(await smallestChartText(page)).toBeGreaterThanOrEqual(12);
    await step("job");
    if (shots) await chart.screenshot({ path: `${shots}/search-chart-${name}.png` });

    // The model: predicted against actual and the residuals, readable at this width.
    await page.getByTestId("job-model").click();
    await expect(page).toHaveURL(/\/models\/[0-9a-f]{32}$/);
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
    await expect(page.getByTestId("fit-chart").locator("svg")).toBeVisible();
    await expect(page.getByTestId("residual-chart").locator("svg")).toBeVisible();
    expect(await smallestChartText(page)).toBeGreaterThanOrEqual(12);
    // Each chart fits its column.
    for (const id of ["fit-chart", "residual-chart"]) {
      const box = await page.getByTestId(id).locator("svg").boundingBox();
      expect(box!.x + box!.width).toBeLessThanOrEqual(viewport.width);
    }
    await step("model");
    if (shots) await page.getByTestId("fit-chart").screenshot({ path: `${shots}/fit-chart-${name}.png` });

    // A prediction from one typed row.
    const form = page.getByTestId("test-row");
    await page.locator("#t-bmi").fill("32");
    await page.locator("#t-s5").fill("5.1");
    await form.getByRole("button", { name: "Predict" }).click();
    await expect(page.getByTestId("prediction")).toContainText("8 of 10 inputs were empty and filled in from the training rows");
    await expect(page.getByTestId("prediction")).toContainText(/\d/);
    await step("predict");
    expect(errors).toEqual([]);
    await context.close();
  });
}
