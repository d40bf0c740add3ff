import { test, expect, type Browser, type Page } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { baseURL } from "../playwright.config";
import { gotoHydrated, watchErrors } from "./helpers";

// A federation as people run it: one person declares it on the page, two people take part
// from their browsers (two contexts, two users) and one from the command line. Every request
// the browsers make goes through a recording proxy, which checks that no value of their rows
// ever reaches the server.

test.describe.configure({ mode: "serial" });

// Its own area (retail · pricing), so that its model does not join the other specs' lists.

const password = "a long federation password";
const owner = "cara.fl";
const browsers = ["dora.fl", "emil.fl"];
const cli = "finn.fl";

/** iris split in three by row, as three files; the values each browser must never send. */
function parts(dir: string): { files: string[]; secrets: string[][] } {
  const [header, ...rows] = readFileSync(join(__dirname, "../../app/tests/data/iris.csv"), "utf8").trim().split("\n");
  const files: string[] = [];
  const secrets: string[][] = [];
  for (let p = 0; p < 3; p++) {
    const mine = rows.filter((_, i) => i % 3 === p);
    const file = join(dir, `part${p + 1}.csv`);
    writeFileSync(file, `${header}\n${mine.join("\n")}\n`);
    files.push(file);
    // Every measurement (the species is the task's public list of classes), and whole rows.
    // (Values with a decimal point: a bare "5" would match any number in any body.)
    secrets.push([...new Set(mine.flatMap((r) => r.split(",").slice(0, 4)))].filter((v) => v.includes(".")).concat(mine.map((r) => r.split(",").slice(0, 4).join(","))));
  }
  return { files, secrets };
}

/** A proxy in front of the server that keeps every request body it forwards. */
function recordingProxy(bodies: string[]): Promise<{ server: Server; url: string }> {
  const target = new URL(baseURL);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      bodies.push(`${req.method} ${req.url}\n${body.toString("utf8")}`);
      const up = httpRequest(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on("error", () => res.destroy());
      // The browser went away (a closed event stream): so does the upstream request.
      res.on("close", () => up.destroy());
      up.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as { port: number }).port;
    resolve({ server, url: `http://127.0.0.1:${port}` });
  }));
}

async function register(page: Page, username: string) {
  const r = await page.request.post("/api/auth/register", {
    data: { username, email: `${username}@example.org`, password, domain: "retail", subdomain: "pricing" },
  });
  expect(r.status()).toBe(201);
}

async function loggedIn(browser: Browser, username: string, base: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  const r = await page.request.post("/api/auth/login", { data: { username, password } });
  expect(r.status()).toBe(200);
  return page;
}

function noSideScroll(page: Page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
}

test("two browsers and a CLI participant train a model together; no row value leaves a browser", async ({ browser, page }) => {
  test.setTimeout(240_000);
  const dir = mkdtempSync(join(tmpdir(), "cipherfold-fl-"));
  const { files, secrets } = parts(dir);
  for (const u of [owner, ...browsers, cli]) await register(page, u);

  // The owner declares the federation on the page, from a sample file read in the browser.
  const declare = await loggedIn(browser, owner, baseURL);
  const declareErrors = watchErrors(declare);
  await gotoHydrated(declare, "/federations");
  await declare.getByRole("link", { name: "Declare a federation" }).click();
  await expect(declare.getByRole("heading", { level: 1 })).toHaveText("Declare a federation");
  await declare.getByLabel("Name").fill("iris in three places");
  await declare.getByLabel("Sample file with the columns (CSV, JSON or Excel .xlsx)").setInputFiles(files[0]);
  await expect(declare.getByText("5 columns read from the sample; nothing left this browser.")).toBeVisible();
  await expect(declare.getByLabel("Column to predict (the target)")).toHaveValue("species");
  await expect(declare.getByLabel("Classes of the target (comma-separated)")).toHaveValue(/setosa/);
  // A threshold of half the participants is refused, named at its field.
  await declare.getByLabel("Training rounds").fill("3");
  await declare.getByLabel("Participants a round waits for").fill("3");
  await declare.getByLabel("Secure-aggregation threshold").fill("1");
  await declare.getByLabel("Seconds each stage of a round waits for late participants").fill("30");
  await declare.getByRole("button", { name: "Declare the federation" }).click();
  await expect(declare.locator("#fed-threshold-error")).toHaveText("more than half of the participants and at most all of them: 2 to 3");
  await declare.getByLabel("Secure-aggregation threshold").fill("2");
  await declare.getByLabel("Batch size (rows)").fill("16");
  // Ten local passes, not the default five: with five, three rounds from random batch orders
  // ended under 0.9 accuracy in 2 of 300 simulated runs (0.8867 once in CI); with ten, none of
  // 3,000 did (lowest 0.9067, median 0.9533).
  await declare.getByLabel("Local passes over the rows per round").fill("10");
  await declare.screenshot({ path: join(dir, "declare-desktop.png"), fullPage: true });
  await declare.setViewportSize({ width: 390, height: 844 });
  expect(await noSideScroll(declare)).toBe(true);
  await declare.screenshot({ path: join(dir, "declare-phone.png"), fullPage: true });
  await declare.setViewportSize({ width: 1280, height: 800 });
  await declare.getByRole("button", { name: "Declare the federation" }).click();
  await expect(declare.getByRole("heading", { level: 1 })).toHaveText("iris in three places");
  const id = declare.url().split("/").pop()!;
  await expect(declare.getByTestId("round-status")).toHaveText("Round 1 (statistics): waiting for members to take part.");

  // Two participants in their browsers, through the recording proxy.
  const bodies: string[] = [];
  const proxy = await recordingProxy(bodies);
  const pages: Page[] = [];
  const errors: string[][] = [];
  for (const [i, u] of browsers.entries()) {
    const p = await loggedIn(browser, u, proxy.url);
    errors.push(watchErrors(p));
    await gotoHydrated(p, `/federations/${id}`);
    await p.getByRole("button", { name: "Join this federation" }).click();
    await expect(p.getByTestId("membership")).toContainText("You have joined");
    await p.getByLabel("Your data file, read in this browser and never sent (CSV, JSON or Excel .xlsx)").setInputFiles(files[i]);
    await expect(p.locator("#f-status")).toHaveText("Your file fits this federation: 50 rows with a value to learn. Nothing has left this browser.");
    await p.getByRole("button", { name: "Take part in the rounds with this file" }).click();
    pages.push(p);
  }

  // The third participant runs the CLI on its own file.
  let cliOut = "";
  const participant: ChildProcess = spawn(
    process.env.CIPHERFOLD_BIN!,
    ["federate", "--server", baseURL, "--federation", id, "--data", files[2], "--username", cli, "--poll-ms", "100"],
    { env: { ...process.env, CIPHERFOLD_PASSWORD: password } },
  );
  participant.stdout!.on("data", (d) => (cliOut += d.toString()));
  participant.stderr!.on("data", (d) => (cliOut += d.toString()));
  const exited = new Promise<number | null>((resolve) => participant.on("exit", resolve));

  // The owner watches the rounds aggregate live; the chart gains a point per training step.
  const rows = declare.getByTestId("rounds-table").locator("tbody tr");
  await expect(rows).toHaveCount(2, { timeout: 60_000 });
  await expect(rows.nth(0)).toContainText("statistics");
  const points = declare.getByTestId("rounds-chart").locator("circle");
  await expect(points).toHaveCount(1);
  await expect(rows).toHaveCount(5, { timeout: 90_000 });
  await expect(points).toHaveCount(4);
  await expect(declare.getByTestId("round-status")).toHaveText("Finished.");
  await expect(rows.nth(4)).toContainText("evaluation");
  // Every round's row count decoded to exactly 150: the masks of the browsers (wasm) and of the
  // CLI (native) cancelled word for word, or the summed count would be noise.
  for (let k = 0; k < 5; k++) await expect(rows.nth(k)).toContainText("3 (150)");
  const accuracy = Number((await rows.nth(4).locator("td").nth(3).textContent()) ?? "0");
  expect(accuracy).toBeGreaterThanOrEqual(0.9);
  expect(await exited).toBe(0);
  expect(cliOut).toContain("the federation has finished: model ");

  // Each browser saw its own steps and its own model's score beside the global one.
  for (const p of pages) {
    await expect(p.getByTestId("participation-log")).toContainText("sent your masked update");
    await expect(p.getByTestId("participation-log")).toContainText("your model on your rows: accuracy");
    // The global model's four scores and this participant's own three, one point each.
    await expect(p.getByTestId("rounds-chart").locator("circle")).toHaveCount(7);
    await expect(p.locator("#f-status")).toHaveText("The federation has finished. Its model is linked above.");
  }

  // Nothing of either browser's file reached the server.
  expect(bodies.some((b) => b.includes("/rounds/") && b.includes("/input"))).toBe(true);
  for (const [i] of browsers.entries()) {
    for (const secret of secrets[i]) {
      const leak = bodies.find((b) => b.split("\n").slice(1).join("\n").includes(secret));
      expect(leak, `“${secret}” from ${browsers[i]}'s file was sent: ${leak}`).toBeUndefined();
    }
  }

  // The model is a registry version from the federation, and predicts.
  await pages[0].getByRole("link", { name: "Open the federation's model" }).click();
  await expect(pages[0].getByRole("heading", { level: 1 })).toContainText("Logistic regression");
  await expect(pages[0].getByRole("link", { name: "a federation" })).toHaveAttribute("href", `/federations/${id}`);
  await pages[0].screenshot({ path: join(dir, "model-desktop.png"), fullPage: true });

  // The federation page reads at phone width too.
  await pages[1].setViewportSize({ width: 390, height: 844 });
  expect(await noSideScroll(pages[1])).toBe(true);
  await pages[1].screenshot({ path: join(dir, "federation-phone.png"), fullPage: true });
  await declare.screenshot({ path: join(dir, "federation-desktop.png"), fullPage: true });
  console.log(`screenshots in ${dir}`);
  proxy.server.close();
  // The one refusal the owner met on purpose (the threshold) is the browser's only complaint.
  expect(declareErrors).toEqual(["Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"]);
  for (const e of errors) expect(e).toEqual([]);
});
