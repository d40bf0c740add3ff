// The file worker. Its work is Rust (one of frontend's worker bundles: app::table, app::crypto
// and the message loop); this only loads the bundle the page named (`?bundle=<module>`, see
// app::file_worker::WorkerBundle::module), which a module worker must do in script, and keeps
// the messages that arrive meanwhile so the Rust loop answers them in order.
const queued = [];
self.onmessage = (e) => queued.push(e.data);

// Every request, queued or still to come, is answered with the reason: the page starts this
// worker before it sends anything (so nothing may be queued yet), and a request left
// unanswered would leave its page waiting.
function refuse(message) {
  self.onmessage = () => self.postMessage({ type: 'failed', message });
  for (let i = 0; i < queued.length; i++) self.postMessage({ type: 'failed', message });
}
const fail = (e) => refuse(`the file reader could not start (${e?.message || e}); reload the page`);

// The bundles use wasm's 128-bit SIMD (scripts/build-site.sh). A function returning
// `i8x16.popcnt(i8x16.splat(0))` only validates where it is supported; reloading would not help
// a browser without it, so this says what would.
const simd = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

const name = new URLSearchParams(self.location.search).get('bundle') ?? 'cipherfold_worker';
// Only a bundle's name: nothing else from the address reaches import().
if (!/^cipherfold_worker(_[a-z]+)?$/.test(name)) {
  fail('this page asked for a file reader that does not exist');
} else if (!WebAssembly.validate(simd)) {
  refuse('this browser is too old to read files here (it lacks WebAssembly SIMD); update it to Chrome or Edge 91, Firefox 89 or Safari 16.4 or later');
} else {
  import(`/pkg/${name}.js`)
    .then(({ default: init, start }) => init({ module_or_path: `/pkg/${name}_bg.wasm` }).then(() => start(queued)))
    .catch(fail);
}
