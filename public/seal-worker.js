// The file worker. Its work is Rust (frontend's `worker` bundle: app::table, app::crypto and
// the message loop); this only loads the bundle, which a module worker must do in script, and
// keeps the messages that arrive meanwhile so the Rust loop answers them in order.
import init, { start } from '/pkg/cipherfold_worker.js';

const queued = [];
self.onmessage = (e) => queued.push(e.data);
init({ module_or_path: '/pkg/cipherfold_worker_bg.wasm' }).then(
  () => start(queued),
  (e) => {
    // Every request, queued or still to come, is answered with the reason: the page starts
    // this worker before it sends anything (so nothing may be queued yet), and a request
    // left unanswered would leave its page waiting.
    const message = `the file reader could not start (${e?.message || e}); reload the page`;
    self.onmessage = () => self.postMessage({ type: 'failed', message });
    for (let i = 0; i < queued.length; i++) self.postMessage({ type: 'failed', message });
  },
);
