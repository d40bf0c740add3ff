// Cipherfold service worker. scripts/build-site.sh replaces __BUILD_ID__ with a hash of the
// build, so each build gets its own cache and the old one is dropped on activation.
const CACHE = "cipherfold-__BUILD_ID__";
const SHELL = [
  "/",
  "/offline.html",
  "/pkg/cipherfold.js",
  "/pkg/cipherfold_bg.wasm",
  // The page's module imports the loader of its lazily loaded routes (scripts/wasm-split).
  "/pkg/__wasm_split.______________________.js",
  "/pkg/cipherfold.css",
  "/manifest.webmanifest",
  "/sw-register.js",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
];
// Every lazily loaded page's modules (pkg/split_*.wasm, pkg/chunk_*.wasm), listed here by
// scripts/build-site.sh: cached with the shell, so a page followed by a link offline still
// renders (and says it needs the server) instead of failing to load its code.
const PAGE_MODULES = [/* __PAGE_MODULES__ */];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL.concat(PAGE_MODULES))).then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("cipherfold-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  // API answers are live data: never from cache.
  if (url.pathname.startsWith("/api/")) return;

  if (req.mode === "navigate") {
    // Network first so pages are fresh. Offline, the home page is the cached one (it was
    // rendered for "/", so it hydrates); every other address gets the offline page, never
    // another page's HTML (which would show the wrong page and break hydration).
    event.respondWith(
      fetch(req)
        .then((res) => {
          if (res.ok && url.pathname === "/") {
            const copy = res.clone();
            caches.open(CACHE).then((c) => c.put("/", copy));
          }
          return res;
        })
        .catch(() => (url.pathname === "/" ? caches.match("/") : Promise.resolve(undefined))
          .then((hit) => hit || caches.match("/offline.html")))
    );
    return;
  }

  // Build assets are content-versioned through the cache name: cache first.
  event.respondWith(caches.match(req).then((hit) => hit || fetch(req)));
});
