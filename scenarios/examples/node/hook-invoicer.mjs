#!/usr/bin/env node
// hook-invoicer.mjs: an example HOOK-driven integration in Node.js (standard library only), the kind of middleware
// racelab's external mode tests. It imports nothing from racelab.
//
// It serves POST /hook; the Orders service posts an order-status hook there (the hook racelab configures with
// POST /api/orders/hook/config, filter FromWorkflow, status handling). On `handling` it reads the order and
// invoices it through the OMS invoice route with a numeric invoiceValue (see oms.mjs).
//
//   node scenarios/examples/node/hook-invoicer.mjs --orders-url http://127.0.0.1:8080 --port 8092 --mode naive
//
// Hooks are delivered at least once (retried until a 200), so a hook seen before (same OrderId, State and
// LastChange) is acknowledged and ignored. The hook is answered 200 at once and the work runs after it (a slow
// answer makes the sender retry). The ping the platform sends when the hook is configured ({"hookConfig": "ping"})
// is answered 200. Prints `listening on http://HOST:PORT/hook` once it serves.

import http from "node:http";
import { Invoicer, OrdersApi, log, onStop, parseOptions } from "./oms.mjs";

const USAGE = `usage: hook-invoicer.mjs --orders-url URL [--host 127.0.0.1] [--port 8092 (0: any)] [--mode naive|workaround]
       [--grace-ms 1000] [--max-wait-ms 15000] [--poll-ms 50]
credentials (optional): VTEX_APP_KEY, VTEX_APP_TOKEN in the environment
`;
const SEEN_MAX = 100000; // hook keys remembered for de-duplication (oldest forgotten first)

const options = parseOptions(process.argv.slice(2), {
  ordersUrl: "", host: "127.0.0.1", port: 8092, mode: "naive", graceMs: 1000, maxWaitMs: 15000, pollMs: 50,
}, USAGE);
const api = new OrdersApi(options.ordersUrl, { appKey: process.env.VTEX_APP_KEY, appToken: process.env.VTEX_APP_TOKEN });
const invoicer = new Invoicer(api, options);
const seen = new Set();

function answer(response, status, body) {
  response.writeHead(status, { "Content-Type": "application/json" });
  response.end(JSON.stringify(body));
}

function onHook(payload, response) {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    return answer(response, 400, { error: "expected a JSON object" });
  }
  if (payload.hookConfig === "ping") {
    log("ping: answered 200");
    return answer(response, 200, { ok: true });
  }
  const { OrderId: orderId, State: state, LastChange: lastChange } = payload;
  if (typeof orderId !== "string" || typeof state !== "string") {
    return answer(response, 400, { error: "expected OrderId and State" });
  }
  const key = JSON.stringify([orderId, state, String(lastChange)]);
  if (seen.has(key)) {
    log(`hook ${orderId} ${state}: duplicate delivery, ignored`);
    return answer(response, 200, { ok: true });
  }
  seen.add(key);
  if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value);
  if (state !== "handling") {
    log(`hook ${orderId} ${state}: nothing to do`);
    return answer(response, 200, { ok: true });
  }
  log(`hook ${orderId} ${state}: invoicing (${invoicer.mode})`);
  answer(response, 200, { ok: true });
  invoicer.invoice(orderId); // after the answer; it logs its own failures
}

const server = http.createServer((request, response) => {
  if (request.method !== "POST" || request.url !== "/hook") return answer(response, 404, { error: "POST /hook only" });
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    let payload;
    try {
      payload = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return answer(response, 400, { error: "expected a JSON body" });
    }
    onHook(payload, response);
  });
});

server.on("error", (error) => {
  process.stderr.write(`hook-invoicer: cannot serve on ${options.host}:${options.port}: ${error.message}\n`);
  process.exit(1);
});
server.listen(options.port, options.host, () => {
  const { port } = server.address();
  log(`mode ${options.mode}, Orders API ${api.baseUrl}`);
  process.stdout.write(`listening on http://${options.host}:${port}/hook\n`);
});
onStop(() => new Promise((resolve) => {
  server.close(resolve);
  server.closeAllConnections(); // idle keep-alive connections would hold close() open
}));
