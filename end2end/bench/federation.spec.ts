import { test, expect, type Page } from "@playwright/test";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { baseURL } from "../playwright.config";
import { gotoHydrated } from "../tests/helpers";

// One federation (iris, logistic regression, three training steps) run twice in the same
// server: by three `cipherfold federate` processes (the baseline), then by three Chromium tabs
// whose file workers run the same protocol in wasm. Each round's time from `round_opened` to
// `aggregated` comes from the federation's own event stream. Prints both medians and the ratio.

const password = "a long benchmark password";

function parts(dir: string): string[] {
  const [header, ...rows] = readFileSync(join(__dirname, "../../app/tests/data/iris.csv"), "utf8").trim().split("\n");
  return [0, 1, 2].map((p) => {
    const file = join(dir, `part${p + 1}.csv`);
    writeFileSync(file, `${header}\n${rows.filter((_, i) => i % 3 === p).join("\n")}\n`);
    return file;
  });
}

async function declare(page: Page, name: string): Promise<string> {
  const r = await page.request.post("/api/federations", {
    data: {
      name,
      task: {
        features: ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"].map((n) => ({ name: n, kind: "numeric" })),
        target: "species", labels: ["setosa", "versicolor", "virginica"],
        model: { kind: "logistic", alpha: 0, epochs: 5, learning_rate: 0.5, batch_size: 16 },
      },
      rounds: 3, min_participants: 3, threshold: 2, round_timeout_secs: 60,
    },
  });
  expect(r.status()).toBe(201);
  return (await r.json()).id;
}

/** Milliseconds from each round's opening to its aggregate, from the event stream. */
async function roundTimes(page: Page, id: string): Promise<number[]> {
  const text = await (await page.request.get(`/api/federations/${id}/events`)).text();
  const opened = new Map<number, number>();
  const times: number[] = [];
  for (const line of text.split("\n").filter((l) => l.startsWith("data: "))) {
    const { at, event } = JSON.parse(line.slice(6));
    if (event.type === "round_opened") opened.set(event.round, Date.parse(at));
    if (event.type === "aggregated") times.push(Date.parse(at) - opened.get(event.result.round)!);
  }
  return times;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function finished(page: Page, id: string) {
  await expect
    .poll(async () => (await (await page.request.get(`/api/federations/${id}`)).json()).status, { timeout: 180_000, intervals: [500] })
    .toBe("finished");
}

test("a federated round: three browser tabs vs three CLI processes", async ({ browser, page }) => {
  test.setTimeout(600_000);
  const dir = mkdtempSync(join(tmpdir(), "cipherfold-flbench-"));
  const files = parts(dir);
  const users = ["owner", "cli1", "cli2", "cli3", "tab1", "tab2", "tab3"].map((u) => `${u}.bench`);
  for (const username of users) {
    const r = await page.request.post("/api/auth/register", {
      data: { username, email: `${username}@example.org`, password, domain: "healthcare", subdomain: "oncology" },
    });
    expect(r.status()).toBe(201);
  }
  expect((await page.request.post("/api/auth/login", { data: { username: users[0], password } })).status()).toBe(200);

  // Baseline: three CLI processes, polling as often as the browser's worker (250 ms).
  const cliFed = await declare(page, "bench: three processes");
  const exits = [1, 2, 3].map((i) => {
    const p = spawn(process.env.CIPHERFOLD_BIN!, ["federate", "--server", baseURL, "--federation", cliFed, "--data", files[i - 1], "--username", users[i]], {
      env: { ...process.env, CIPHERFOLD_PASSWORD: password },
      stdio: "ignore",
    });
    return new Promise<number | null>((resolve) => p.on("exit", resolve));
  });
  for (const code of await Promise.all(exits)) expect(code).toBe(0);
  await finished(page, cliFed);

  // Three tabs, each its own user and browser context, taking part from the federation page.
  const tabFed = await declare(page, "bench: three tabs");
  for (const [i, username] of users.slice(4).entries()) {
    const context = await browser.newContext();
    const tab = await context.newPage();
    expect((await tab.request.post("/api/auth/login", { data: { username, password } })).status()).toBe(200);
    await gotoHydrated(tab, `/federations/${tabFed}`);
    await tab.getByRole("button", { name: "Join this federation" }).click();
    await tab.getByLabel(/^Your data file, read in this browser/).setInputFiles(files[i]);
    await expect(tab.getByRole("button", { name: "Take part in the rounds with this file" })).toBeVisible();
    await tab.getByRole("button", { name: "Take part in the rounds with this file" }).click();
  }
  await finished(page, tabFed);

  const cli = await roundTimes(page, cliFed);
  const tabs = await roundTimes(page, tabFed);
  expect(cli.length).toBe(5);
  expect(tabs.length).toBe(5);
  // The tabs' first round includes the time people took to join and pick their files.
  const cliMedian = median(cli.slice(1));
  const tabMedian = median(tabs.slice(1));
  console.log(`round open → aggregate, median of the 4 rounds after the first (ms): ` +
    `3 CLI processes ${cliMedian}, 3 Chromium tabs ${tabMedian}, ratio ${(tabMedian / cliMedian).toFixed(2)}x; ` +
    `every round: CLI [${cli.join(", ")}], tabs [${tabs.join(", ")}]`);
});
