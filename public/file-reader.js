// The file worker's reader (frontend/src/worker/file_reader.rs): reads a picked file in pieces
// and hands each to the file worker, transferred, not copied. Chromium copies a Blob read into
// its ArrayBuffer on the thread that asked for it, between that thread's tasks, so the file
// worker reading ahead for itself still did every copy between two pieces of its parse: over a
// third of a numeric CSV's preview. Read here, the copies run on another thread while the file
// worker parses. Script, not wasm: it is a few browser calls, and a second wasm instance would
// cost a second load of the bundle.
//
// Messages in: `[job, file, first, piece, ahead]` starts reading `file` in pieces of `piece`
// bytes (the first one `first` bytes), sending `ahead` of them before the file worker takes one;
// it then sends `[job, "more"]` for each piece it takes. `[job, "stop"]` ends that job, and a new
// job ends the one before. Messages out: `[job, piece, end]` (an ArrayBuffer, and where it ends
// in the file), then `[job, null]`; or `[job, why]` with the browser's reason a read failed.
let job = null;
let credits = 0;
let wake = null;

function rouse() {
  const w = wake;
  wake = null;
  if (w) w();
}

async function read(me, file, piece, first) {
  for (let from = 0; from < file.size; ) {
    while (credits === 0 && job === me) await new Promise((r) => (wake = r));
    if (job !== me) return;
    credits -= 1;
    const end = Math.min(from + (from === 0 ? first : piece), file.size);
    let buffer;
    try {
      buffer = await file.slice(from, end).arrayBuffer();
    } catch (e) {
      if (job === me) self.postMessage([me, String((e && e.message) || e)]);
      return;
    }
    if (job !== me) return;
    self.postMessage([me, buffer, end], [buffer]);
    from = end;
  }
  if (job === me) self.postMessage([me, null]);
}

self.onmessage = (e) => {
  const [id, what, first, piece, ahead] = e.data;
  if (what === "more") {
    if (id === job) {
      credits += 1;
      rouse();
    }
    return;
  }
  // A stop of a job already replaced changes nothing.
  if (what === "stop" && id !== job) return;
  // A new job or a stop: the read under way (if any) ends at its next step.
  job = what === "stop" ? null : id;
  credits = what === "stop" ? 0 : ahead;
  rouse();
  // Whatever goes wrong is the file worker's to hear: it would otherwise wait for a piece.
  if (what !== "stop") {
    read(id, what, piece, first).catch((e) => self.postMessage([id, String((e && e.message) || e)]));
  }
};
