import { test, expect } from "@playwright/test";

// 100 MiB sealed twice in the same worker: the aes-gcm crate in wasm, and WebCrypto with the
// nonces and associated data that Rust computes. Prints MB/s and the ratio; asserts only that
// both produce the same envelope bytes.
test("sealing throughput: wasm aes-gcm vs WebCrypto", async ({ page }) => {
  const mb = Number(process.env.CIPHERFOLD_BENCH_MB ?? 100);
  await page.goto("/");
  const rounds = [];
  for (let i = 0; i < 3; i++) {
    // The benchmark runs in a worker of its own, made here from the bundle users download:
    // no benchmark code ships in the sealing worker.
    const r = await page.evaluate(async (mb) => {
      const source = `
        import init, { SealSession } from '${location.origin}/pkg/cipherfold_worker.js';
        const CHUNK = 1 << 20;
        self.onmessage = async (e) => {
          await init({ module_or_path: '${location.origin}/pkg/cipherfold_worker_bg.wasm' });
          const size = e.data.mb * CHUNK;
          const data = new Uint8Array(size);
          for (let off = 0; off < size; off += 65536) crypto.getRandomValues(data.subarray(off, Math.min(size, off + 65536)));
          const pk = new Uint8Array(32);
          crypto.getRandomValues(pk);
          const n = size / CHUNK;
          const wasm = new SealSession(btoa(String.fromCharCode(...pk)), undefined, CHUNK);
          let t = performance.now();
          let firstWasm = null;
          for (let i = 0; i < n; i++) {
            const out = wasm.seal_chunk(data.subarray(i * CHUNK, (i + 1) * CHUNK), i === n - 1);
            if (i === 0) firstWasm = out;
          }
          const wasmMs = performance.now() - t;
          const key = await crypto.subtle.importKey('raw', wasm.raw_key(), 'AES-GCM', false, ['encrypt']);
          const aad = wasm.header_bytes();
          t = performance.now();
          let firstWeb = null;
          for (let i = 0; i < n; i++) {
            const out = new Uint8Array(await crypto.subtle.encrypt(
              { name: 'AES-GCM', iv: wasm.nonce(i, i === n - 1), additionalData: aad }, key, data.subarray(i * CHUNK, (i + 1) * CHUNK)));
            if (i === 0) firstWeb = out;
          }
          const webMs = performance.now() - t;
          wasm.free();
          const same = firstWasm.length === firstWeb.length && firstWasm.every((b, i) => b === firstWeb[i]);
          const mb = size / 1e6;
          self.postMessage({ bytes: size, same, wasm_mbps: mb / (wasmMs / 1000), webcrypto_mbps: mb / (webMs / 1000) });
        };`;
      const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
      const w = new Worker(url, { type: "module" });
      const out = await new Promise<any>((resolve) => {
        w.onmessage = (e) => resolve(e.data);
        w.postMessage({ mb });
      });
      w.terminate();
      return out;
    }, mb);
    expect(r.same).toBe(true);
    rounds.push(r);
  }
  const median = (k: string) => rounds.map((r) => r[k]).sort((a, b) => a - b)[1];
  const wasm = median("wasm_mbps");
  const web = median("webcrypto_mbps");
  console.log(`sealing ${mb} MiB (median of 3): wasm aes-gcm ${wasm.toFixed(1)} MB/s, WebCrypto ${web.toFixed(1)} MB/s, ratio ${(web / wasm).toFixed(1)}x`);
});
