import { test, expect } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gotoHydrated } from "../tests/helpers";

// The upload preview's reading of a CSV in Chromium against the same code natively, on the
// same file: 200,000 rows × 20 numbers (CIPHERFOLD_BENCH_PARSE_ROWS to change), the shape of
// the trainer benchmark's file. The browser figure is the real path: the file handed to the
// file worker the upload page uses (`/seal-worker.js`, the shipped wasm) with a `parse`
// request, timed until the worker's `parsed` answer (best of 3, the worker already loaded).
// The native figures come from `cargo bench -p app --bench parse` on the same bytes.

const rows = Number(process.env.CIPHERFOLD_BENCH_PARSE_ROWS ?? 200_000);

/** Columns c0..c18 uniform in [-1, 1), y = Σ (j+1)·cj + noise (seeded), each written by `write`. */
function csv(n: number, write: (v: number) => string): string {
  let seed = 1;
  const random = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const lines = [[...Array(19).keys()].map((j) => `c${j}`).concat("y").join(",")];
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: 19 }, () => random() * 2 - 1);
    const y = x.reduce((s, v, j) => s + (j + 1) * v, 0) + (random() * 0.2 - 0.1);
    lines.push(x.map(write).concat(write(y)).join(","));
  }
  return lines.join("\n") + "\n";
}

// Two spellings of the same numbers: 6 decimals (the trainer benchmark's file), and the 16 or
// 17 significant digits a program writes to keep a double exact (JavaScript's `String(x)`,
// Python's `repr`), which take the long-mantissa path of the number reader.
const spellings: [string, (v: number) => string][] = [
  ["6 decimals", (v) => v.toFixed(6)],
  ["full precision", (v) => String(v)],
];

for (const [spelling, write] of spellings) test(`the upload preview's CSV reading, numbers with ${spelling}: Chromium's worker (wasm) vs native`, async ({ page }) => {
  test.setTimeout(1_200_000);
  const dir = mkdtempSync(join(tmpdir(), "cf-parse-bench-"));
  const file = join(dir, "numbers.csv");
  const text = csv(rows, write);
  writeFileSync(file, text);
  const native = JSON.parse(
    execFileSync("cargo", ["bench", "-q", "-p", "app", "--bench", "parse", "--", file], { cwd: "..", encoding: "utf8" }).trim().split("\n").pop()!,
  );
  expect(native.rows).toBe(rows);

  await gotoHydrated(page, "/");
  // A real picked file, as the upload page gets one.
  await page.evaluate(() => {
    const input = document.createElement("input");
    input.type = "file";
    input.id = "bench-file";
    document.body.append(input);
  });
  await page.setInputFiles("#bench-file", file);
  const browser = await page.evaluate(async () => {
    const big = (document.getElementById("bench-file") as HTMLInputElement).files![0];
    const worker = new Worker("/seal-worker.js", { type: "module" });
    const parse = (file: File) =>
      new Promise<any>((resolve, reject) => {
        worker.onmessage = (e) => {
          if (e.data.type === "parsed") resolve(e.data.scan);
          else if (e.data.type === "failed") reject(new Error(e.data.message));
        };
        worker.postMessage({ request: { parse: { sheet: null, seal_ahead: false } }, file });
      });
    // Loads the worker's wasm before the timed runs.
    await parse(new File(["a,b\n1,2\n"], "warm.csv", { type: "text/csv" }));
    const times = [];
    let scan = null;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      scan = await parse(big);
      times.push((performance.now() - t) / 1000);
    }
    worker.terminate();
    return { secs: Math.min(...times), rows: scan.rows, numeric: scan.columns.filter((c: any) => c.kind === "numeric").length };
  });
  expect(browser.rows).toBe(rows);
  expect(browser.numeric).toBe(20);
  rmSync(dir, { recursive: true, force: true });

  const mb = native.bytes / 1e6;
  const line = (name: string, secs: number) => `  ${name.padEnd(44)} ${secs.toFixed(3)} s  ${(mb / secs).toFixed(0).padStart(4)} MB/s`;
  console.log(
    [
      `reading a ${mb.toFixed(1)} MB CSV of ${rows} rows × 20 numbers with ${spelling} (best of 3):`,
      line("Chromium, the upload page's worker (wasm)", browser.secs),
      line("native, the same scanner (one thread)", native.scan),
      line(`native, the trainer's parser (${native.cores} threads)`, native.parse),
      `  wasm / native scanner: ${(browser.secs / native.scan).toFixed(2)}× (goal ≤ 3×); wasm / native parser: ${(browser.secs / native.parse).toFixed(2)}×`,
    ].join("\n"),
  );
});
