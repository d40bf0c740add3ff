import { test, expect, type Page } from "@playwright/test";
import { join } from "node:path";
import { gotoHydrated, watchErrors } from "./helpers";

test.describe.configure({ mode: "serial" });

const ana = { username: "ana.fed", password: "ana's long password" };
const ben = { username: "ben.fed", password: "ben's long password" };

async function register(page: Page, u: { username: string; password: string }) {
  const r = await page.request.post("/api/auth/register", {
    data: { username: u.username, email: `${u.username}@example.org`, password: u.password, domain: "healthcare", subdomain: "oncology" },
  });
  expect(r.status()).toBe(201);
}

async function login(page: Page, u: { username: string; password: string }) {
  const r = await page.request.post("/api/auth/login", { data: u });
  expect(r.status()).toBe(200);
}

test("a federation declared by one person is seen and joined by another of the area", async ({ page }) => {
  const errors = watchErrors(page);
  await register(page, ana);
  await register(page, ben);
  await login(page, ana);
  const r = await page.request.post("/api/federations", {
    data: {
      name: "iris across labs",
      task: {
        features: [{ name: "petal_length_cm", kind: "numeric" }, { name: "petal_width_cm", kind: "numeric" }],
        target: "species", labels: ["setosa", "versicolor", "virginica"],
        model: { kind: "logistic", alpha: 1, epochs: 1, learning_rate: 1, batch_size: 1024 },
      },
      rounds: 20, min_participants: 3, threshold: 2, round_timeout_secs: 120,
    },
  });
  expect(r.status()).toBe(201);

  await page.context().clearCookies();
  await login(page, ben);
  await gotoHydrated(page, "/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Federations" }).click();
  const table = page.getByTestId("federation-table");
  await expect(table).toContainText("Logistic regression: classify “species”");
  await page.getByRole("link", { name: "iris across labs" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("iris across labs");
  await expect(page.getByTestId("federation-status")).toHaveText("open: 0 of the 3 participants a round needs have joined");
  await expect(page.getByRole("table", { name: /2 columns the model learns from/ })).toContainText("petal_width_cm");
  await page.getByRole("button", { name: "Join this federation" }).click();
  await expect(page.getByTestId("membership")).toHaveText("You have joined: you are its only member so far.");
  await expect(page.getByRole("button", { name: "Join this federation" })).toBeHidden();
  await expect(page.getByTestId("federation-status")).toContainText("1 of the 3");

  // The member checks a data file against the task; it is read here and never sent.
  const file = page.getByLabel(/^Your data file, read in this browser/);
  await file.setInputFiles(join(__dirname, "../../app/tests/data/iris.csv"));
  await expect(page.locator("#f-status")).toHaveText("Your file fits this federation: 150 rows with a value to learn. Nothing has left this browser.");
  await file.setInputFiles(join(__dirname, "../../app/tests/data/diabetes.csv"));
  await expect(page.locator("#f-error")).toHaveText("This file does not fit the federation: the file has no column “petal_length_cm”. Nothing was sent.");

  // A phone shows the same page without sideways scrolling.
  await page.setViewportSize({ width: 390, height: 844 });
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  expect(scroll).toBeLessThanOrEqual(client);
  expect(errors).toEqual([]);
});

// The wasm build's secure-aggregation masks equal the native build's: the pair mask between two
// fixed keys, computed by the worker bundle users download, against app::fl::masks::PAIR_MASK_KAT
// (which Python's `cryptography` reproduces too).
test("the browser's pair masks equal the native known answer", async ({ page }) => {
  await page.goto("/");
  const words = await page.evaluate(async () => {
    const source = `
      import init, { secagg_pair_mask } from '${location.origin}/pkg/cipherfold_worker_federate.js';
      self.onmessage = async () => {
        await init({ module_or_path: '${location.origin}/pkg/cipherfold_worker_federate_bg.wasm' });
        // X25519's public key of the secret [2; 32] (RFC 7748; Python's cryptography agrees).
        const peer = Uint8Array.from('ce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba05870e587d59'.match(/../g).map((h) => parseInt(h, 16)));
        self.postMessage(Array.from(secagg_pair_mask(new Uint8Array(32).fill(1), peer, 'kat', 1, 4), (w) => w.toString()));
      };`;
    const w = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })), { type: "module" });
    const out = await new Promise<string[]>((resolve) => {
      w.onmessage = (e) => resolve(e.data);
      w.postMessage(null);
    });
    w.terminate();
    return out;
  });
  expect(words).toEqual(["10413276666273874620", "9528624886230053263", "14183911283953279812", "16433318361133519855"]);
});
