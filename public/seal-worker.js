// The sealing worker: parses a picked file, seals it chunk by chunk and uploads the
// ciphertext, off the page's thread. The format and all cryptography except the bulk AES-GCM
// are the Rust code in the wasm bundle (app::table, app::crypto); WebCrypto does the bulk
// cipher with nonces and associated data that Rust computes, because it is many times faster.
import init, { parse_preview, rows_for_prediction, CsvScan, SealSession, create_owner_key, open_owned } from '/pkg/cipherfold_worker.js';

const ready = init({ module_or_path: '/pkg/cipherfold_worker_bg.wasm' });
const CHUNK = 1 << 20;
// CSV is read in pieces of this size; JSON and Excel are read whole, up to WHOLE_LIMIT.
const PIECE = 8 << 20;
const WHOLE_LIMIT = 256 << 20;

let cancelled = false;
let xhr = null;

class Cancelled extends Error {}

const post = (m) => self.postMessage(m);

async function problem(res) {
  try {
    const body = await res.json();
    if (body.fields) return Object.entries(body.fields).map(([k, v]) => `${k}: ${v}`).join('; ');
    return body.message || `the server answered ${res.status}`;
  } catch {
    return `the server answered ${res.status}`;
  }
}

async function json(url, init) {
  const res = await fetch(url, { credentials: 'same-origin', ...init });
  if (!res.ok) throw new Error(await problem(res));
  return res.json();
}

async function ownerKey(passphrase) {
  const res = await fetch('/api/keys/me', { credentials: 'same-origin' });
  if (res.status === 200) return res.json();
  if (res.status !== 204) throw new Error(await problem(res));
  if (!passphrase) throw new Error('choose a passphrase for your dataset key first');
  post({ type: 'status', message: 'Creating your dataset key…' });
  const key = JSON.parse(create_owner_key(passphrase));
  await json('/api/keys/me', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(key) });
  return key;
}

/// Seals `file` into a list of Blob parts (header first). Blob parts may live on disk, so a
/// large file does not need its size in memory.
async function seal(session, file, useWebCrypto, onChunk) {
  const total = file.size;
  const n = Math.max(1, Math.ceil(total / CHUNK));
  const aad = session.header_bytes();
  const key = useWebCrypto
    ? await crypto.subtle.importKey('raw', session.raw_key(), 'AES-GCM', false, ['encrypt'])
    : null;
  const parts = [aad];
  for (let i = 0; i < n; i++) {
    if (cancelled) throw new Cancelled();
    const last = i === n - 1;
    const chunk = new Uint8Array(await file.slice(i * CHUNK, Math.min(total, (i + 1) * CHUNK)).arrayBuffer());
    const sealed = key
      ? new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: session.nonce(i, last), additionalData: aad }, key, chunk))
      : session.seal_chunk(chunk, last);
    parts.push(new Blob([sealed]));
    onChunk(i + 1, n);
  }
  return new Blob(parts, { type: 'application/octet-stream' });
}

function put(url, blob) {
  return new Promise((resolve, reject) => {
    xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.upload.onprogress = (ev) => post({ type: 'progress', phase: 'upload', done: ev.loaded, total: ev.total || blob.size });
    xhr.onload = () => {
      if (xhr.status === 200) return resolve();
      let message = `the server answered ${xhr.status}`;
      try {
        const b = JSON.parse(xhr.responseText);
        message = b.fields ? Object.values(b.fields).join('; ') : b.message || message;
      } catch {}
      reject(new Error(message));
    };
    xhr.onerror = () => reject(new Error('the connection failed during the upload; check your network and try again'));
    xhr.onabort = () => reject(new Cancelled());
    xhr.send(blob);
  });
}

async function upload(m) {
  cancelled = false;
  let declared = null;
  try {
    const trainer = await json('/api/keys/trainer');
    const owner = await ownerKey(m.passphrase);
    const session = new SealSession(trainer.public_key, owner.public_key, CHUNK);
    const id = session.id();
    const declaration = session.declaration(JSON.stringify(m.parsed), m.name, m.domain, m.subdomain, !!m.shared, m.target || undefined, m.file.size);
    await json('/api/datasets', { method: 'POST', headers: { 'content-type': 'application/json' }, body: declaration });
    declared = id;
    const blob = await seal(session, m.file, m.webcrypto !== false && !!self.crypto?.subtle, (done, total) =>
      post({ type: 'progress', phase: 'seal', done, total }));
    session.free();
    await put(`/api/datasets/${id}/blob`, blob);
    declared = null;
    post({ type: 'done', id });
  } catch (e) {
    if (declared) {
      // The server removes failed uploads itself; this also covers a cancel before the upload began.
      fetch(`/api/datasets/${declared}`, { method: 'DELETE', credentials: 'same-origin' }).catch(() => {});
    }
    if (e instanceof Cancelled) post({ type: 'cancelled' });
    else post({ type: 'error', message: e.message || String(e) });
  } finally {
    xhr = null;
  }
}

async function parse(m) {
  cancelled = false;
  const file = m.file;
  if (/\.(csv|tsv|txt)$/i.test(file.name)) {
    const scan = new CsvScan();
    try {
      for (let off = 0; off < file.size; off += PIECE) {
        if (cancelled) return post({ type: 'cancelled' });
        scan.push(new Uint8Array(await file.slice(off, Math.min(file.size, off + PIECE)).arrayBuffer()));
        post({ type: 'progress', phase: 'parse', done: Math.min(file.size, off + PIECE), total: file.size });
      }
      post({ type: 'parsed', parsed: JSON.parse(scan.finish()) });
    } finally {
      scan.free();
    }
    return;
  }
  if (file.size > WHOLE_LIMIT) {
    const mb = (file.size / 1048576).toFixed(0);
    throw new Error(`JSON and Excel files are read whole in the browser, and this one is ${mb} MiB (the limit is 256 MiB); save it as CSV, which is read in pieces`);
  }
  post({ type: 'progress', phase: 'parse', done: 0, total: file.size });
  const bytes = new Uint8Array(await file.arrayBuffer());
  const parsed = JSON.parse(parse_preview(bytes, file.name, m.sheet || undefined));
  post({ type: 'progress', phase: 'parse', done: file.size, total: file.size });
  post({ type: 'parsed', parsed });
}

async function openDataset(m) {
  post({ type: 'status', message: 'Downloading the ciphertext…' });
  const res = await fetch(`/api/datasets/${m.id}/blob`, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(await problem(res));
  const envelope = new Uint8Array(await res.arrayBuffer());
  const keyRes = await fetch('/api/keys/me', { credentials: 'same-origin' });
  if (keyRes.status !== 200) throw new Error('you have no dataset key on this server');
  const key = await keyRes.json();
  post({ type: 'status', message: 'Unlocking your key and opening the envelope…' });
  const opened = JSON.parse(open_owned(envelope, m.id, JSON.stringify(m.wrapped), JSON.stringify(key), m.passphrase,
    JSON.stringify(m.parse_options), m.format));
  post({ type: 'opened', opened });
}

self.onmessage = async (e) => {
  const m = e.data;
  if (m.type === 'cancel') {
    cancelled = true;
    if (xhr) xhr.abort();
    return;
  }
  try {
    await ready;
    if (m.type === 'parse') {
      await parse(m);
    } else if (m.type === 'upload') {
      await upload(m);
    } else if (m.type === 'open') {
      await openDataset(m);
    } else if (m.type === 'rows') {
      const bytes = new Uint8Array(await m.file.arrayBuffer());
      post({ type: 'rows', rows: rows_for_prediction(bytes, m.file.name, m.limit) });
    }
  } catch (e) {
    post({ type: 'error', message: e?.message || String(e) });
  }
};
