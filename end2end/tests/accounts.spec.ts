import { test, expect } from "@playwright/test";
import { gotoHydrated, watchErrors } from "./helpers";

// One server for the whole run: the first account registered here is the administrator.
test.describe.configure({ mode: "serial" });

const user = { name: "dana.e2e", email: "dana@example.org", password: "a long enough passphrase" };

test("a logged-out visit to a protected page goes to the login page and back", async ({ page }) => {
  const res = await page.goto("/profile");
  expect(res?.status()).toBe(200);
  await expect(page).toHaveURL(/\/login\?next=\/profile$/);
  await expect(page.getByRole("heading", { name: "Log in" })).toBeVisible();
});

test("registration explains bad input next to each field and creates nothing", async ({ page }) => {
  await gotoHydrated(page, "/register");
  await page.getByLabel("Username").fill("X");
  await page.getByLabel("Email").fill("not-an-email");
  await page.getByLabel("Password", { exact: true }).fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.locator("#reg-username-error")).toContainText("characters");
  await expect(page.locator("#reg-email-error")).toContainText("email address");
  await expect(page.locator("#reg-password-error")).toContainText("at least 10 characters");
  await expect(page.getByLabel("Password", { exact: true })).toHaveAttribute("aria-invalid", "true");
  await expect(page).toHaveURL(/\/register$/);
});

test("register, log out, log in, change subdomain, log out", async ({ page }) => {
  const errors = watchErrors(page);
  await gotoHydrated(page, "/register");
  await page.getByLabel("Username").fill(user.name);
  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password", { exact: true }).fill(user.password);
  await page.getByLabel("Domain", { exact: true }).selectOption("finance");
  await page.getByLabel("Subdomain").selectOption("fraud-detection");
  await page.getByRole("button", { name: "Create account" }).click();

  // A new user lands on home: a greeting and what to do next.
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Welcome, ${user.name}`);
  await expect(page.getByTestId("what-next").getByRole("link", { name: "Upload a dataset" })).toBeVisible();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: user.name }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByTestId("profile-username")).toHaveText(user.name);
  const who = page.getByTestId("who");
  await expect(who).toContainText(`Signed in as ${user.name}`);
  await expect(who).toContainText("Finance · Fraud detection");

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Log in" })).toBeVisible();
  await expect(page).toHaveURL(/\/$/);

  // A wrong password is refused with a message, not a field-by-field error.
  await gotoHydrated(page, "/login?next=/profile");
  await page.getByLabel("Username").fill(user.name);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Wrong username or password" })).toBeVisible();

  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await expect(who).toContainText(`Signed in as ${user.name}`);

  await page.getByLabel("Subdomain").selectOption("insurance");
  await page.getByRole("button", { name: "Save field" }).click();
  await expect(page.getByRole("status")).toContainText("Saved");
  await expect(who).toContainText("Finance · Insurance");

  // The change survives a reload (it is on the server, not just in the page).
  await gotoHydrated(page, "/profile");
  await expect(page.getByLabel("Subdomain")).toHaveValue("insurance");

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Log in" })).toBeVisible();
  await page.goto("/profile");
  await expect(page).toHaveURL(/\/login\?next=\/profile$/);
  expect(errors.filter((e) => !e.includes("401"))).toEqual([]);
});

test("the first account is the administrator: the audit log with filters, system health", async ({ page }) => {
  await gotoHydrated(page, "/login");
  await page.getByLabel("Username").fill(user.name);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByTestId("who")).toContainText(user.name);
  await page.getByRole("link", { name: "Audit log" }).click();
  await expect(page).toHaveURL(/\/audit$/);
  const table = page.getByTestId("audit-table");
  await expect(table).toContainText("auth.register");
  await expect(table).toContainText("user.update_profile");
  await page.getByLabel("Outcome").selectOption("denied");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/outcome=denied/);
  await expect(table).toContainText("auth.login");
  await expect(table.locator("tbody tr")).toHaveCount(1);
  await expect(table).toContainText("wrong username or password");

  // System health on the dashboard, polled every 5 s: a later check replaces the first.
  await gotoHydrated(page, "/analytics");
  const health = page.getByTestId("system-health");
  // No jobs yet, one worker (the default), in words that agree with the number.
  await expect(health.locator("dd").nth(3)).toHaveText("0 queued, 0 running on 1 worker");
  await expect(health.locator("dt").first()).toHaveText("CPU");
  const checked = health.locator("dd").last();
  const first = await checked.textContent();
  await expect(checked).not.toHaveText(first ?? "", { timeout: 15_000 });
});

test("an expired access cookie is renewed from the refresh cookie on the next page load", async ({ page, context }) => {
  await gotoHydrated(page, "/login");
  await page.getByLabel("Username").fill(user.name);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByTestId("who")).toContainText(user.name);
  // Home has loaded the person's work: no request of the page is in flight with the cookie
  // replaced below (two requests refreshing at once would spend the refresh token twice).
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Welcome");

  const cookie = async (name: string) => (await context.cookies()).find((c) => c.name === name);
  const before = await cookie("cf_refresh");
  expect(before?.httpOnly).toBe(true);
  expect(before?.sameSite).toBe("Strict");
  // Replace the access cookie with one that no longer verifies, as an expired one would not.
  const access = (await cookie("cf_access"))!;
  await context.addCookies([{ ...access, value: "expired.or.garbage" }]);

  await page.goto("/profile");
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByTestId("profile-username")).toHaveText(user.name);
  const after = await cookie("cf_refresh");
  expect(after?.value).not.toBe(before?.value);
  expect((await cookie("cf_access"))?.value).not.toBe("expired.or.garbage");

  // The renewed session keeps working, which it would not if the new cookies had been lost
  // (the old refresh token is spent, and using it again would end the session).
  await page.reload();
  await expect(page.getByTestId("profile-username")).toHaveText(user.name);
});
