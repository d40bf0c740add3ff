import { test, expect } from "@playwright/test";
import { compareSealing } from "../tests/sealing";

// 100 MiB sealed twice in the same worker: the aes-gcm crate in wasm, and WebCrypto with the
// nonces and associated data that Rust computes. Prints MB/s and the ratio; asserts only that
// both produce the same envelope bytes.
test("sealing throughput: wasm aes-gcm vs WebCrypto", async ({ page }) => {
  const mb = Number(process.env.CIPHERFOLD_BENCH_MB ?? 100);
  await page.goto("/");
  const rounds = [];
  for (let i = 0; i < 3; i++) {
    const r = await compareSealing(page, mb);
    expect(r.same).toBe(true);
    rounds.push(r);
  }
  const median = (k: string) => rounds.map((r) => r[k]).sort((a, b) => a - b)[1];
  const wasm = median("wasm_mbps");
  const web = median("webcrypto_mbps");
  console.log(`sealing ${mb} MiB (median of 3): wasm aes-gcm ${wasm.toFixed(1)} MB/s, WebCrypto ${web.toFixed(1)} MB/s, ratio ${(web / wasm).toFixed(1)}x`);
});
