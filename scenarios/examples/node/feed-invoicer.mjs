#!/usr/bin/env node
// feed-invoicer.mjs: an example integration in Node.js (standard library only) that FINDS its work instead of
// being told: no hook, no port. It imports nothing from racelab.
//
//   --source feed (default): the Orders feed v3. At start it configures its feed,
//     POST /api/orders/feed/config {"filter": {"type": "FromWorkflow", "status": ["handling"]},
//                                   "queue": {"visibilityTimeoutInSeconds": 250, "MessageRetentionPeriodInSeconds": 345600}}
//     then reads GET /api/orders/feed?maxlot=10 in a loop. Each item is handled (an order entering `handling` is
//     invoiced) and then committed, POST /api/orders/feed {"handles": [...]}: an item read and not committed comes
//     back after the visibility timeout, so a crash mid-invoice is retried rather than lost.
//   --source poll: the order list, GET /api/oms/pvt/orders?f_status=handling&per_page=100&page=N, every --poll-ms;
//     an order listed for the first time is invoiced.
//
//   node scenarios/examples/node/feed-invoicer.mjs --orders-url http://127.0.0.1:8080 --mode naive
//
// Invoicing is oms.mjs's (naive, or the workaround). Prints `ready: ...` once it is configured and reading.

import { Invoicer, OrdersApi, log, onStop, parseOptions } from "./oms.mjs";

const USAGE = `usage: feed-invoicer.mjs --orders-url URL [--source feed|poll] [--mode naive|workaround]
       [--feed-poll-ms 50] [--grace-ms 1000] [--max-wait-ms 15000] [--poll-ms 50]
credentials (optional): VTEX_APP_KEY, VTEX_APP_TOKEN in the environment
`;
const MAX_LOT = 10; // the published maximum of `maxlot`
const PER_PAGE = 100; // the published maximum of `per_page`
const FEED_CONFIG = {
  filter: { type: "FromWorkflow", status: ["handling"] },
  queue: { visibilityTimeoutInSeconds: 250, MessageRetentionPeriodInSeconds: 345600 },
};

const options = parseOptions(process.argv.slice(2), {
  ordersUrl: "", source: "feed", mode: "naive", feedPollMs: 50, graceMs: 1000, maxWaitMs: 15000, pollMs: 50,
}, USAGE);
if (!["feed", "poll"].includes(options.source)) {
  process.stderr.write(`--source must be feed or poll (got ${options.source})\n${USAGE}`);
  process.exit(2);
}
const api = new OrdersApi(options.ordersUrl, { appKey: process.env.VTEX_APP_KEY, appToken: process.env.VTEX_APP_TOKEN });
const invoicer = new Invoicer(api, options);
const started = new Set(); // orders this process has taken on (an item delivered again is not invoiced twice)
let running = true;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Take on an order entering handling, once; resolves when its invoicing is done. */
function takeOn(orderId, how) {
  if (started.has(orderId)) {
    log(`${how} ${orderId}: already taken on, ignored`);
    return Promise.resolve();
  }
  started.add(orderId);
  log(`${how} ${orderId} handling: invoicing (${invoicer.mode})`);
  return invoicer.invoice(orderId);
}

async function commit(handles) {
  const { status, body } = await api.call("POST", "/api/orders/feed", { handles });
  if (status !== 200 && status !== 204) log(`commit of ${handles.length} item(s): ${status} ${JSON.stringify(body)}`);
}

async function configureFeed() {
  const { status, body } = await api.call("POST", "/api/orders/feed/config", FEED_CONFIG);
  if (status < 200 || status >= 300) throw new Error(`POST /api/orders/feed/config: ${status} ${JSON.stringify(body)}`);
  log("feed configured: FromWorkflow, status handling");
}

async function readFeed() {
  await configureFeed();
  process.stdout.write(`ready: reading the feed of ${api.baseUrl} (mode ${invoicer.mode})\n`);
  while (running) {
    let items = [];
    try {
      const { status, body } = await api.call("GET", `/api/orders/feed?maxlot=${MAX_LOT}`);
      if (status === 200 && Array.isArray(body)) items = body;
      else log(`GET feed: ${status} ${JSON.stringify(body)}`);
      for (const item of items) {
        if (item.state === "handling") {
          // Each order's invoicing runs on its own (the workaround waits); its item is committed once it is done.
          takeOn(item.orderId, "feed").then(() => commit([item.handle])).catch((error) => log(`commit: ${error.message}`));
        } else {
          await commit([item.handle]);
        }
      }
    } catch (error) {
      log(`feed: ${error.name}: ${error.message}; trying again`); // the Orders API is down or slow: keep reading
    }
    if (items.length < MAX_LOT) await sleep(options.feedPollMs);
  }
}

async function pollOrders() {
  process.stdout.write(`ready: polling the orders of ${api.baseUrl} in handling (mode ${invoicer.mode})\n`);
  while (running) {
    try {
      for (let page = 1; ; page += 1) {
        const path = `/api/oms/pvt/orders?f_status=handling&per_page=${PER_PAGE}&page=${page}`;
        const { status, body } = await api.call("GET", path);
        if (status !== 200 || !body || !Array.isArray(body.list)) {
          log(`GET ${path}: ${status} ${JSON.stringify(body)}`);
          break;
        }
        for (const order of body.list) {
          if (!started.has(order.orderId)) takeOn(order.orderId, "list");
        }
        const pages = Number(body.paging?.pages ?? 1);
        if (page >= pages || body.list.length < PER_PAGE) break;
      }
    } catch (error) {
      log(`list: ${error.name}: ${error.message}; trying again`);
    }
    await sleep(options.pollMs);
  }
}

onStop(async () => {
  running = false;
});
(options.source === "feed" ? readFeed() : pollOrders()).catch((error) => {
  process.stderr.write(`feed-invoicer: ${error.message}\n`);
  process.exit(1);
});
