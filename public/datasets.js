// Wires the dataset pages (rendered by Leptos) to the sealing worker. Nothing here touches
// file contents or keys; the worker does, in Rust.
import { $, whenHydrated } from '/page.js';

function worker() {
  return new Worker('/seal-worker.js', { type: 'module' });
}

function showError(el, message) {
  el.textContent = message;
  el.hidden = false;
  el.focus?.();
}

function cellText(c) {
  return c === null || c === undefined ? '' : String(c);
}

function renderTable(container, columns, rows, caption) {
  const table = document.createElement('table');
  table.className = 'data';
  const cap = table.createCaption();
  cap.textContent = caption;
  const head = table.createTHead().insertRow();
  for (const col of columns) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = `${col.name} (${col.kind})`;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const c of row) tr.insertCell().textContent = cellText(c);
  }
  container.replaceChildren(table);
}

function summaryText(s) {
  const st = s.stats;
  if (st.type === 'numeric') return st.min === null ? 'no values' : `min ${st.min}, max ${st.max}, mean ${st.mean.toFixed(3)}`;
  if (st.type === 'boolean') return `${st.true_count} true, ${st.false_count} false`;
  return `${st.distinct} categories; top: ${st.top.map(([k, n]) => `${k} (${n})`).join(', ')}`;
}

function uploadPage(form) {
  const w = worker();
  let parsed = null;
  let file = null;
  const status = $('u-status');
  const error = $('u-error');
  const details = $('u-details');
  const setBusy = (busy) => {
    details.disabled = busy || !parsed;
    $('u-file').disabled = busy;
    $('u-cancel').hidden = !busy;
  };
  const parse = () => {
    file = $('u-file').files[0];
    parsed = null;
    error.hidden = true;
    $('u-preview').hidden = true;
    details.disabled = true;
    if (!file) return;
    status.textContent = `Reading ${file.name} in this browser…`;
    $('u-name').value = file.name.replace(/\.[^.]+$/, '');
    $('p-parse').value = 0;
    $('u-parse').hidden = false;
    $('u-cancel').hidden = false;
    w.postMessage({ type: 'parse', file, sheet: $('u-sheet').value });
  };
  $('u-file').addEventListener('change', parse);
  $('u-sheet').addEventListener('change', () => file && parse());
  $('u-cancel').addEventListener('click', () => w.postMessage({ type: 'cancel' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!parsed) return;
    error.hidden = true;
    const needKey = !$('u-key').hidden;
    const pass = $('u-pass')?.value || '';
    if (needKey) {
      if (pass.length < 10) return showError(error, 'Your passphrase needs at least 10 characters.');
      if (pass !== $('u-pass2').value) return showError(error, 'The two passphrases differ; type the same one twice.');
    }
    if (!$('u-name').value.trim()) return showError(error, 'Give the dataset a name.');
    setBusy(true);
    $('u-progress').hidden = false;
    $('p-seal').value = 0;
    $('p-upload').value = 0;
    status.textContent = 'Sealing in this browser, then uploading the ciphertext…';
    w.postMessage({
      type: 'upload', file, parsed, passphrase: needKey ? pass : null,
      name: $('u-name').value.trim(), target: $('u-target').value, shared: $('u-shared').checked,
      domain: form.dataset.domain, subdomain: form.dataset.subdomain,
    });
  });
  w.onmessage = (e) => {
    const m = e.data;
    if (m.type === 'parsed') {
      parsed = m.parsed;
      $('u-cancel').hidden = true;
      status.textContent = `${parsed.rows} rows and ${parsed.columns.length} columns read from ${file.name}. Nothing has left this browser.`;
      renderTable($('u-table'), parsed.columns, parsed.preview, `First ${parsed.preview.length} of ${parsed.rows} rows`);
      const list = $('u-summaries');
      list.replaceChildren(...parsed.summaries.map((s) => {
        const li = document.createElement('li');
        li.textContent = `${s.name} (${s.kind}): ${s.missing} missing; ${summaryText(s)}`;
        return li;
      }));
      const target = $('u-target');
      target.replaceChildren(new Option('Choose later', ''), ...parsed.columns.map((c) => new Option(`${c.name} (${c.kind})`, c.name)));
      target.value = parsed.columns[parsed.columns.length - 1].name;
      $('u-preview').hidden = false;
      details.disabled = false;
    } else if (m.type === 'progress') {
      const bar = { parse: $('p-parse'), seal: $('p-seal'), upload: $('p-upload') }[m.phase];
      bar.value = Math.round((100 * m.done) / Math.max(1, m.total));
    } else if (m.type === 'status') {
      status.textContent = m.message;
    } else if (m.type === 'done') {
      setBusy(false);
      $('u-progress').hidden = true;
      status.textContent = 'Uploaded: only ciphertext left this browser.';
      const link = $('u-done-link');
      link.href = `/datasets/${m.id}`;
      $('u-done').hidden = false;
      link.focus();
    } else if (m.type === 'cancelled') {
      setBusy(false);
      status.textContent = 'Cancelled; nothing was kept on the server.';
    } else if (m.type === 'error') {
      setBusy(false);
      $('u-cancel').hidden = true;
      status.textContent = '';
      showError(error, parsed ? `The upload failed: ${m.message}` : `This file cannot be used: ${m.message}. Fix it and pick it again; nothing was uploaded.`);
    }
  };
  fetch('/api/keys/me', { credentials: 'same-origin' }).then((r) => {
    $('u-key').hidden = r.status !== 204;
  });
}

function detailPage(section) {
  const w = worker();
  const error = $('o-error');
  const status = $('o-status');
  $('o-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.hidden = true;
    $('o-submit').disabled = true;
    w.postMessage({
      type: 'open', id: section.dataset.id, passphrase: $('o-pass').value, format: section.dataset.format,
      parse_options: JSON.parse(section.dataset.parseOptions), wrapped: JSON.parse(section.dataset.wrapped),
    });
  });
  w.onmessage = (e) => {
    const m = e.data;
    if (m.type === 'status') status.textContent = m.message;
    if (m.type === 'opened') {
      $('o-submit').disabled = false;
      status.textContent = `Opened in this browser: ${m.opened.row_count} rows.`;
      renderTable($('o-table'), m.opened.columns, m.opened.rows, `${m.opened.rows.length} of ${m.opened.row_count} rows, decrypted in this browser`);
    }
    if (m.type === 'error') {
      $('o-submit').disabled = false;
      status.textContent = '';
      showError(error, `Could not open the dataset: ${m.message}.`);
    }
  };
}

function deleteButton(button) {
  button.addEventListener('click', async () => {
    if (!confirm(`Delete “${button.dataset.name}” and its ciphertext? This cannot be undone.`)) return;
    const res = await fetch(`/api/datasets/${button.dataset.id}`, { method: 'DELETE', credentials: 'same-origin' });
    if (res.ok) location.assign('/datasets');
    else showError($('d-error'), `Deleting failed (${res.status}); try again.`);
  });
}

whenHydrated(() => {
  const form = $('upload-form');
  if (form) uploadPage(form);
  const section = $('owner-open');
  if (section) detailPage(section);
  const del = $('d-delete');
  if (del) deleteButton(del);
});
