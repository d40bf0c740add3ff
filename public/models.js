// Batch prediction on a model's page: the worker parses the picked file with app::table (Rust
// in wasm), the rows go to POST /api/models/{id}/predict, the answers become a table and a
// CSV download. Nothing is stored.
import { $, whenHydrated } from '/page.js';
const LIMIT = 10000;

function parseRows(file) {
  return new Promise((resolve, reject) => {
    const w = new Worker('/seal-worker.js', { type: 'module' });
    w.onmessage = (e) => {
      if (e.data.type === 'rows') resolve(JSON.parse(e.data.rows));
      else if (e.data.type === 'error') reject(new Error(e.data.message));
      else return;
      w.terminate();
    };
    w.onerror = (e) => reject(new Error(e.message || 'the file reader failed'));
    w.postMessage({ type: 'rows', file, limit: LIMIT });
  });
}

function csvField(v) {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function render(columns, rows, predictions) {
  const labels = predictions[0]?.probabilities ? Object.keys(predictions[0].probabilities) : [];
  const header = [...columns, 'prediction', ...labels.map((l) => `p(${l})`)];
  const body = rows.map((r, i) => {
    const p = predictions[i];
    const out = p.label !== undefined ? p.label : p.value;
    return [...columns.map((c) => r[c]), out, ...labels.map((l) => p.probabilities[l])];
  });
  const table = document.createElement('table');
  table.className = 'data';
  table.createCaption().textContent = `Predictions for ${rows.length} rows${rows.length > 200 ? ' (first 200 shown; the download has all)' : ''}`;
  const head = table.createTHead().insertRow();
  for (const h of header) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    head.appendChild(th);
  }
  const tbody = table.createTBody();
  for (const row of body.slice(0, 200)) {
    const tr = tbody.insertRow();
    for (const v of row) tr.insertCell().textContent = typeof v === 'number' ? String(Math.round(v * 1e6) / 1e6) : (v ?? '');
  }
  $('b-table').replaceChildren(table);
  const csv = [header, ...body].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
  const link = $('b-download');
  if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
  link.hidden = false;
}

whenHydrated(() => {
  const section = $('batch');
  if (!section) return;
  const id = section.dataset.id;
  const columns = section.dataset.columns.split(',');
  $('b-file').addEventListener('change', async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    $('b-error').hidden = true;
    $('b-download').hidden = true;
    $('b-table').replaceChildren();
    $('b-status').textContent = `Reading ${file.name} in this browser…`;
    try {
      const rows = await parseRows(file);
      $('b-status').textContent = `Predicting ${rows.length} rows…`;
      const r = await fetch(`/api/models/${id}/predict`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ rows }),
      });
      const answer = await r.json();
      if (!r.ok) {
        const fields = answer.fields ? Object.values(answer.fields).join('; ') : answer.message || r.statusText;
        throw new Error(`${fields}. Check that the file has the model's input columns (${columns.join(', ')}).`);
      }
      render(columns, rows, answer.predictions);
      $('b-status').textContent = `Predicted ${rows.length} rows.`;
    } catch (err) {
      $('b-status').textContent = '';
      $('b-error').textContent = err.message;
      $('b-error').hidden = false;
      $('b-error').focus();
    }
  });
});
