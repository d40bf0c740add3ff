// What the page scripts share: element lookup, and waiting for Leptos to hydrate the page
// (it replaces server-rendered nodes, so listeners go on after it).
export const $ = (id) => document.getElementById(id);

export function whenHydrated(fn) {
  if (document.body.dataset.hydrated === 'true') return fn();
  new MutationObserver((_, obs) => {
    if (document.body.dataset.hydrated === 'true') {
      obs.disconnect();
      fn();
    }
  }).observe(document.body, { attributes: true, attributeFilter: ['data-hydrated'] });
}
