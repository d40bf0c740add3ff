import type { Page } from "@playwright/test";

export type SealComparison = { bytes: number; same: boolean; wasm_mbps: number; webcrypto_mbps: number };

/// Seals `mb` MiB of random data twice in a worker made here from the bundle users download
/// (no test or benchmark code ships in the sealing worker): with the aes-gcm crate in wasm, and
/// with WebCrypto given the nonces and associated data Rust computes. Says whether the first
/// chunks agree byte for byte, and the MB/s of each.
export async function compareSealing(page: Page, mb: number): Promise<SealComparison> {
  return page.evaluate(async (mb) => {
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
}
