import { test, expect } from "@playwright/test";
import { gotoHydrated } from "./helpers";
test("probe", async ({ page }) => {
  await page.request.post("/api/auth/register", { data: { username: "probe.user", email: "p@example.org", password: "a long probe password", domain: "healthcare", subdomain: "oncology" } });
  expect((await page.request.post("/api/auth/login", { data: { username: "probe.user", password: "a long probe password" } })).status()).toBe(200);
  await gotoHydrated(page, "/");
  const info = await page.evaluate(() => {
    const a = document.querySelector('.who a')!;
    const r = a.getBoundingClientRect();
    const el = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)!;
    const li = document.querySelector('.who')!.getBoundingClientRect();
    return { a: [r.x, r.y, r.width, r.height], li: [li.x, li.y, li.width, li.height], hit: el.outerHTML.slice(0, 200), cs: getComputedStyle(a).display };
  });
  console.log(JSON.stringify(info));
  await page.screenshot({ path: "/tmp/ux/home-1280.png" });
});
