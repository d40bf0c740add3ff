// Load for several nodes at once (autocannon, from npm), driven by server/benches/load.rs.
// Reads one JSON argument: {duration, connections, token, model, row, accounts, password,
// loginRate, nodes: ["http://127.0.0.1:PORT", …]}. Each node gets an equal share of the
// connections, each connection cycling through: list datasets, get the model, predict one row.
// A separate single connection logs in at `loginRate` per second (below the per-address limit
// of 30 then one every 6 s, which is the point of the limit), cycling through `accounts`.
// Prints one JSON line per node: {node, requests, rps, p50, p99, errors, non2xx, failed}, where
// `failed` counts each non-2xx answer by request and status ("POST /api/models/…/predict 503")
// with the first body seen for it, so a non-2xx in the figures can be explained.
import autocannon from "autocannon";

const cfg = JSON.parse(process.argv[2]);
const auth = { authorization: `Bearer ${cfg.token}`, "content-type": "application/json" };
// Non-2xx answers by node, then by "METHOD path status": {count, body}.
const failed = new Map();
const tally = (node, what) => (status, body) => {
  if (status >= 200 && status < 300) return;
  const byNode = failed.get(node) ?? failed.set(node, {}).get(node);
  const key = `${what} ${status}`;
  byNode[key] ??= { count: 0, body: String(body ?? "").slice(0, 200) };
  byNode[key].count += 1;
};
const reads = (node) => [
  { method: "GET", path: "/api/datasets", headers: auth },
  { method: "GET", path: `/api/models/${cfg.model}`, headers: auth },
  { method: "POST", path: `/api/models/${cfg.model}/predict`, headers: auth, body: JSON.stringify({ rows: [cfg.row] }) },
].map((r) => ({ ...r, onResponse: tally(node, `${r.method} ${r.path}`) }));

const run = (opts) =>
  new Promise((resolve, reject) => autocannon(opts, (err, result) => (err ? reject(err) : resolve(result))));

const perNode = Math.max(1, Math.floor(cfg.connections / cfg.nodes.length));
const loads = cfg.nodes.map((url) =>
  run({ url, connections: perNode, duration: cfg.duration, requests: reads(url), timeout: 10 }).then((r) => ({ url, r })),
);
let n = 0;
const logins = cfg.loginRate > 0
  ? run({
      url: cfg.nodes[0],
      connections: 1,
      // autocannon's rate is whole requests per second, so a rate below one is spread as
      // duration × rate logins at one a second (the first part of the run).
      overallRate: Math.max(1, Math.ceil(cfg.loginRate)),
      amount: Math.max(1, Math.round(cfg.duration * cfg.loginRate)),
      timeout: 10,
      requests: [{
        method: "POST",
        path: "/api/auth/login",
        headers: { "content-type": "application/json" },
        onResponse: tally("logins", "POST /api/auth/login"),
        setupRequest: (req) => {
          const username = cfg.accounts[n++ % cfg.accounts.length];
          return { ...req, body: JSON.stringify({ username, password: cfg.password }) };
        },
      }],
    })
  : Promise.resolve(null);
const [done, login] = await Promise.all([Promise.all(loads), logins]);
for (const { url, r } of done) {
  console.log(JSON.stringify({
    node: url,
    requests: r.requests.total,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    failed: failed.get(url) ?? {},
  }));
}
if (login) {
  console.log(JSON.stringify({ node: "logins", requests: login.requests.total, rps: login.requests.average, p50: login.latency.p50,
    p99: login.latency.p99, errors: login.errors + login.timeouts, non2xx: login.non2xx, failed: failed.get("logins") ?? {} }));
}
