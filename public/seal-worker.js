// The file worker. Its work is Rust (one of frontend's worker bundles: app::table, app::crypto
// and the message loop); this only loads the bundle the page named (`?bundle=<module>`, see
// app::file_worker::WorkerBundle::module), which a module worker must do in script, and keeps
// the messages that arrive meanwhile so the Rust loop answers them in order.
const queued = [];
self.onmessage = (e) => queued.push(e.data);

// Every request, queued or still to come, is answered with the reason: the page starts this
// worker before it sends anything (so nothing may be queued yet), and a request left
// unanswered would leave its page waiting.
function fail(e) {
  const message = `the file reader could not start (${e?.message || e}); reload the page`;
  self.onmessage = () => self.postMessage({ type: 'failed', message });
  for (let i = 0; i < queued.length; i++) self.postMessage({ type: 'failed', message });
}

const name = new URLSearchParams(self.location.search).get('bundle') ?? 'cipherfold_worker';
// Only a bundle's name: nothing else from the address reaches import().
if (!/^cipherfold_worker(_[a-z]+)?$/.test(name)) {
  fail('this page asked for a file reader that does not exist');
} else {
  import(`/pkg/${name}.js`)
    .then(({ default: init, start }) => init({ module_or_path: `/pkg/${name}_bg.wasm` }).then(() => start(queued)))
    .catch(fail);
}
