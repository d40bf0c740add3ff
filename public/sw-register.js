// Registers the service worker that keeps the shell usable offline. Loaded with `defer`
// so it never delays the first paint; a failure only costs offline support.
if ("serviceWorker" in navigator) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((err) => {
      console.warn("Cipherfold: offline support unavailable:", err.message);
    });
  });
}
