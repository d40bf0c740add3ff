import { test, expect, type Browser } from "@playwright/test";
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { baseURL, tlsURL } from "../playwright.config";
import { gotoHydrated } from "../tests/helpers";

// A large CSV (1 GB by default, CIPHERFOLD_BENCH_UPLOAD_MB to change) picked in the upload page
// and sealed and uploaded, each time by a new user: over HTTPS (HTTP/2) and over plain HTTP
// (HTTP/1.1) with the form filled and two seconds to read the preview, as a person would, and
// over HTTP/1.1 clicked as soon as the form allows. A file of up to 128 MiB is sealed in the
// background while the preview is shown (SEAL_AHEAD_LIMIT), and the click then only declares
// and sends it; a larger one is sealed after the click, chunk by chunk into one streaming
// request over HTTP/2, or whole into a Blob first over HTTP/1.1. For such a file each
// protocol is also run as the baseline, sealed after the click: the benchmark turns the
// page's request to seal ahead off in the message the worker receives. While each runs, the
// resident memory of every Chromium process is sampled every 200 ms. Prints the peak above the
// level before the file was picked, for the largest single process (the page and its worker)
// and for all of them together, with the time and MB/s of each phase.

const mb = Number(process.env.CIPHERFOLD_BENCH_UPLOAD_MB ?? 1000);

/** Resident set sizes (bytes) of every running Chromium process. */
function chromiumRss(): number[] {
  const sizes: number[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      if (!/^Name:\s+chrom/m.test(status)) continue;
      const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
      if (rss) sizes.push(Number(rss[1]) * 1024);
    } catch {
      // The process ended while we looked.
    }
  }
  return sizes;
}

function sampler() {
  let peakOne = 0;
  let peakAll = 0;
  const timer = setInterval(() => {
    const sizes = chromiumRss();
    peakOne = Math.max(peakOne, ...sizes);
    peakAll = Math.max(peakAll, sizes.reduce((a, b) => a + b, 0));
  }, 200);
  return () => {
    clearInterval(timer);
    return { peakOne, peakAll };
  };
}

async function writeCsv(path: string, bytes: number) {
  const out = createWriteStream(path);
  out.write("a,b,c,d,e,f,g,h,label\n");
  let written = 0;
  let i = 0;
  while (written < bytes) {
    const rows: string[] = [];
    for (let k = 0; k < 10_000; k++, i++) {
      rows.push(`${i},${(i * 0.37) % 11},${(i * 7) % 13},${i % 101},${(i * 1.5) % 17},${i % 7},${(i * 3) % 29},${i % 5},${i % 3 === 0 ? "yes" : "no"}`);
    }
    const chunk = rows.join("\n") + "\n";
    written += chunk.length;
    if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
  }
  await new Promise((r) => out.end(r));
}

/** What the file worker told the page, with the page's clock: the phases' timings. */
type Message = { t: number; type: string; phase?: string };

async function upload(browser: Browser, origin: string, user: string, file: string, pauseMs: number, sealAhead: boolean) {
  const context = await browser.newContext({ baseURL: origin, ignoreHTTPSErrors: true });
  // Every message the page's file worker posts, timed, and for the baseline the page's
  // `parse` requests without `seal_ahead` (benchmark-only; nothing ships).
  await context.addInitScript((sealAhead: boolean) => {
    const log: Message[] = [];
    (window as any).__workerLog = log;
    const Base = window.Worker;
    window.Worker = class extends Base {
      postMessage(message: any, options?: any) {
        if (!sealAhead && message?.request?.parse) message.request.parse.seal_ahead = false;
        super.postMessage(message, options);
      }
      constructor(url: string | URL, options?: WorkerOptions) {
        super(url, options);
        this.addEventListener("message", (e: MessageEvent) => log.push({ t: performance.now(), type: e.data?.type, phase: e.data?.phase }));
      }
    };
    // The page's own clock for the preview: when the file input changed, and when the preview's
    // status first said it was ready (Playwright's polling adds its own delay to either).
    document.addEventListener("change", (e) => {
      if ((e.target as HTMLInputElement | null)?.type === "file") log.push({ t: performance.now(), type: "picked" });
    }, true);
    new MutationObserver(() => {
      if (!log.some((m) => m.type === "shown") && document.querySelector("[role=status]")?.textContent?.includes("Nothing has left this browser")) {
        log.push({ t: performance.now(), type: "shown" });
      }
    }).observe(document, { subtree: true, childList: true, characterData: true });
  }, sealAhead);
  const page = await context.newPage();
  await gotoHydrated(page, "/register");
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Email").fill(`${user}@example.org`);
  await page.getByLabel("Password", { exact: true }).fill("a benchmark password");
  await page.getByLabel("Domain", { exact: true }).selectOption("technology");
  await page.getByLabel("Subdomain").selectOption({ index: 1 });
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Welcome, ${user}`);
  await gotoHydrated(page, "/datasets/new");
  const before = chromiumRss();
  const stop = sampler();
  const parseStart = Date.now();
  await page.getByLabel("Data file (CSV, JSON or Excel .xlsx)").setInputFiles(file);
  await expect(page.getByRole("status").first()).toContainText("Nothing has left this browser", { timeout: 600_000 });
  const parseSecs = (Date.now() - parseStart) / 1000;
  await page.getByLabel("Dataset key passphrase (at least 10 characters)").fill("a benchmark passphrase");
  await page.getByLabel("The same passphrase again").fill("a benchmark passphrase");
  await new Promise((r) => setTimeout(r, pauseMs));
  const start = Date.now();
  const clicked = await page.evaluate(() => performance.now());
  await page.getByRole("button", { name: "Seal and upload" }).click();
  await expect(page.getByRole("status").first()).toContainText("only ciphertext left this browser", { timeout: 1_200_000 });
  const secs = (Date.now() - start) / 1000;
  const { peakOne, peakAll } = stop();
  const log: Message[] = await page.evaluate(() => (window as any).__workerLog);
  await context.close();
  // The worker's phases: its parse (first parse progress to `parsed`); the click to the first
  // sealed chunk (the keys, and the declaration; sealed ahead, the keys and any wait for the
  // sealing, which then reports its progress); sealing after the click (first to last sealed
  // chunk; none when it was done ahead); and what is left until `uploaded` (the upload, or its
  // tail when streamed; sealed ahead, the declaration and the upload).
  const first = (f: (m: Message) => boolean) => log.find(f)?.t ?? NaN;
  const last = (f: (m: Message) => boolean) => log.filter(f).pop()?.t ?? NaN;
  const isSeal = (m: Message) => m.type === "progress" && m.phase === "seal";
  const at = (type: string) => first((m) => m.type === type);
  const firstParse = first((m) => m.type === "progress" && m.phase === "parse");
  const phases = {
    workerParse: (at("parsed") - firstParse) / 1000,
    // Picked to the worker's first progress (the request, the worker's start, the first piece),
    // and its `parsed` to the preview on the page.
    toWorker: (firstParse - at("picked")) / 1000,
    render: (at("shown") - at("parsed")) / 1000,
    preview: (at("shown") - at("picked")) / 1000,
    key: (first(isSeal) - clicked) / 1000,
    seal: (last(isSeal) - first(isSeal)) / 1000,
    rest: (at("uploaded") - last(isSeal)) / 1000,
    sealUpload: (at("uploaded") - clicked) / 1000,
  };
  return {
    parseSecs,
    secs,
    phases,
    beforeOne: Math.max(...before),
    beforeAll: before.reduce((a, b) => a + b, 0),
    peakOne,
    peakAll,
  };
}

test("a large upload's time and memory in the tab, over HTTP/2 and HTTP/1.1", async ({ browser }) => {
  test.setTimeout(3_600_000);
  const dir = mkdtempSync(join(tmpdir(), "cf-upload-bench-"));
  const file = join(dir, "large.csv");
  await writeCsv(file, mb * 1_000_000);
  const size = statSync(file).size;
  const ahead = size <= 128 * 1_048_576;
  // Name, origin, user, pause before the click, whether the page seals ahead. Each baseline
  // right after its run, and only where the file is sealed ahead at all.
  type Run = [string, string, string, number, boolean];
  const baseline = (run: Run): Run[] => (ahead ? [run] : []);
  const runs: Run[] = [
    [`HTTPS, HTTP/2, ${ahead ? "sealed ahead" : "streamed"}`, tlsURL, "bench.stream", 2000, true],
    ...baseline(["HTTPS, HTTP/2, streamed (baseline)", tlsURL, "bench.stream0", 2000, false]),
    [`HTTP/1.1, ${ahead ? "sealed ahead" : "sealed whole"}`, baseURL, "bench.whole", 2000, true],
    ...baseline(["HTTP/1.1, sealed whole (baseline)", baseURL, "bench.whole0", 2000, false]),
    ["HTTP/1.1, clicked at once", baseURL, "bench.hurry", 0, true],
  ];
  const mib = (b: number) => (b / 1_048_576).toFixed(0);
  const lines = [`upload of a ${(size / 1e6).toFixed(0)} MB CSV (${mib(size)} MiB) through the upload page:`];
  // End to end and click to stored of each run, for the ratios to the baselines.
  const took = new Map<string, [number, number]>();
  for (const [name, origin, user, pauseMs, sealAhead] of runs) {
    const r = await upload(browser, origin, user, file, pauseMs, sealAhead);
    const p = r.phases;
    took.set(name, [p.preview + p.sealUpload, p.sealUpload]);
    const rate = (secs: number) => `${secs.toFixed(2)} s (${(size / 1e6 / secs).toFixed(0)} MB/s)`;
    lines.push(
      `  ${name.padEnd(36)} end to end (preview + seal and upload, page's clock) ${rate(p.preview + p.sealUpload)}: ` +
        `preview on the page's clock ${rate(p.preview)} (picked to the worker's first piece ${p.toWorker.toFixed(2)} s, ` +
        `worker's parse ${rate(p.workerParse)}, parsed to shown ${p.render.toFixed(2)} s); ` +
        `${pauseMs ? `${pauseMs / 1000} s to read it; ` : ""}click to the first sealed chunk ${p.key.toFixed(2)} s; ` +
        `sealing after the click ${p.seal >= 0.1 ? rate(p.seal) : `${p.seal.toFixed(2)} s`}${name.includes("streamed") ? " (as fast as the network takes chunks)" : ""}; ` +
        `then until stored ${p.rest.toFixed(2)} s (click to stored ${p.sealUpload.toFixed(2)} s)`,
    );
    lines.push(
      `  ${name.padEnd(36)} as Playwright waits: preview ${r.parseSecs.toFixed(1)} s; seal + upload ${r.secs.toFixed(1)} s = ${(size / 1e6 / r.secs).toFixed(0)} MB/s; ` +
        `peak RSS above the level before the pick: largest process +${mib(r.peakOne - r.beforeOne)} MiB (peak ${mib(r.peakOne)}), ` +
        `all Chromium processes +${mib(r.peakAll - r.beforeAll)} MiB (peak ${mib(r.peakAll)})`,
    );
  }
  const ratio = (a: string, b: string) => {
    const [x, y] = [took.get(a), took.get(b)];
    if (x && y) lines.push(`  ${a} against ${b}: end to end ${(x[0] / y[0]).toFixed(2)}× the time, click to stored ${(x[1] / y[1]).toFixed(2)}×`);
  };
  ratio("HTTPS, HTTP/2, sealed ahead", "HTTPS, HTTP/2, streamed (baseline)");
  ratio("HTTP/1.1, sealed ahead", "HTTP/1.1, sealed whole (baseline)");
  ratio("HTTP/1.1, clicked at once", "HTTP/1.1, sealed whole (baseline)");
  console.log(lines.join("\n"));
  rmSync(dir, { recursive: true, force: true });
});
