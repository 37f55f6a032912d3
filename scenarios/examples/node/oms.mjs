// oms.mjs: what both Node.js example integrations share. The VTEX Orders API calls they make and the invoicing
// itself, naive or with the known issue's workaround. Node's standard library only (fetch), no npm packages.
//
// Written the way integrations call the published Orders API (VTEX's OpenAPI document, "Orders API"):
// - the invoice is the OMS form, POST /api/oms/pvt/orders/{orderId}/invoice, with `invoiceValue` a NUMBER of cents
//   (the document types it as a string; integrations send numbers, and the platform takes both), `issuanceDate`,
//   and `items` copied from the order's `items[]` as {id, price (unit price, cents), quantity};
// - credentials, when given, as the X-VTEX-API-AppKey / X-VTEX-API-AppToken headers (VTEX_APP_KEY, VTEX_APP_TOKEN);
// - the workaround reads GET /api/order-system/orders/{orderId}/changes (the order's Changes) and the details of
//   each, GET /api/order-system/orders/{orderId}/changes/{requestId}, until every one reports `finished: true`
//   (or was canceled: nothing to wait for), then re-reads the order and invoices its current value.

export const MODES = ["naive", "workaround"];

/** One line on stdout per action, with the wall-clock time (the tests and the README read these lines). */
export function log(message) {
  const now = new Date();
  const stamp = now.toISOString().slice(11, 23);
  process.stdout.write(`${stamp} ${message}\n`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A small Orders API client: JSON in, {status, body} out. A network error or a timeout throws. */
export class OrdersApi {
  constructor(baseUrl, { appKey, appToken, timeoutMs = 20000 } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.timeoutMs = timeoutMs; // the published document recommends 20 s for synchronous routes
    this.headers = { Accept: "application/json", "Content-Type": "application/json" };
    if (appKey || appToken) {
      this.headers["X-VTEX-API-AppKey"] = appKey ?? "";
      this.headers["X-VTEX-API-AppToken"] = appToken ?? "";
    }
  }

  async call(method, path, body) {
    const response = await fetch(this.baseUrl + path, {
      method,
      headers: this.headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    let parsed = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: response.status, body: parsed };
  }
}

/** The invoicing job of both examples: what happens once an order is known to be in `handling`. */
export class Invoicer {
  constructor(api, { mode, graceMs = 1000, maxWaitMs = 15000, pollMs = 50 }) {
    if (!MODES.includes(mode)) throw new Error(`unknown mode ${mode}; expected one of ${MODES.join(", ")}`);
    this.api = api;
    this.mode = mode;
    this.graceMs = graceMs;
    this.maxWaitMs = maxWaitMs;
    this.pollMs = pollMs;
  }

  /** Invoice the order (after waiting for its Changes, in workaround mode). Never throws: failures are logged. */
  async invoice(orderId) {
    try {
      if (this.mode === "workaround") await this.waitForChanges(orderId);
      const order = await this.readOrder(orderId);
      if (order !== null) await this.sendInvoice(orderId, order);
    } catch (error) {
      log(`order ${orderId}: gave up: ${error.name}: ${error.message}`);
    }
  }

  async readOrder(orderId) {
    const { status, body } = await this.api.call("GET", `/api/oms/pvt/orders/${encodeURIComponent(orderId)}`);
    if (status !== 200 || body === null || typeof body !== "object") {
      log(`GET order ${orderId}: ${status}, not invoicing`);
      return null;
    }
    log(`GET order ${orderId}: 200, value ${body.value}, status ${body.status}`);
    return body;
  }

  async sendInvoice(orderId, order) {
    const items = (order.items ?? [])
      .filter((item) => Number(item.quantity) > 0)
      .map((item) => ({ id: String(item.id), price: Number(item.price), quantity: Number(item.quantity) }));
    const invoice = {
      type: "Output",
      issuanceDate: new Date().toISOString(),
      invoiceNumber: `NF-${orderId}`,
      invoiceValue: Number(order.value), // a number, as integrations send it
      items,
    };
    const path = `/api/oms/pvt/orders/${encodeURIComponent(orderId)}/invoice`;
    const { status, body } = await this.api.call("POST", path, invoice);
    log(`POST invoice ${orderId} ${invoice.invoiceNumber} value ${invoice.invoiceValue}: ${status} ${JSON.stringify(body)}`);
  }

  /**
   * Wait until every Change of the order reports `finished: true` (or was canceled), for at least `graceMs` after
   * the order was found (a Change not sent yet cannot be waited for) and at most `maxWaitMs` (then invoice anyway).
   */
  async waitForChanges(orderId) {
    const base = `/api/order-system/orders/${encodeURIComponent(orderId)}/changes`;
    const start = Date.now();
    const settled = new Set(); // requestIds seen finished or canceled: never asked again
    for (;;) {
      const { status, body } = await this.api.call("GET", base);
      const requests = status === 200 && body && Array.isArray(body.requests) ? body.requests : [];
      let pending = 0;
      for (const request of requests) {
        const id = request.requestId;
        if (typeof id !== "string" || settled.has(id)) continue;
        const details = await this.api.call("GET", `${base}/${encodeURIComponent(id)}`);
        const change = details.status === 200 && details.body && typeof details.body === "object" ? details.body : {};
        if (change.finished === true || change.status === "canceled") settled.add(id);
        else pending += 1;
      }
      const elapsed = Date.now() - start;
      // 404: the order has no Changes (yet): nothing to wait for but the grace period.
      const answered = status === 200 || status === 404;
      if (answered && pending === 0 && elapsed >= this.graceMs) {
        log(`Changes of ${orderId}: ${requests.length} listed, none pending after ${elapsed} ms`);
        return;
      }
      if (elapsed >= this.maxWaitMs) {
        log(`Changes of ${orderId}: still ${pending} pending (GET ${status}) after ${elapsed} ms, invoicing anyway`);
        return;
      }
      await sleep(this.pollMs);
    }
  }
}

/** `--name value` options (and `--name=value`), with defaults; unknown options are an error. */
export function parseOptions(argv, defaults, usage) {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; i += 1) {
    let [name, value] = argv[i].split(/=(.*)/s, 2);
    if (name === "--help" || name === "-h") {
      process.stdout.write(usage);
      process.exit(0);
    }
    const key = name.replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!name.startsWith("--") || !(key in defaults)) {
      process.stderr.write(`unknown option ${name}\n${usage}`);
      process.exit(2);
    }
    if (value === undefined) {
      i += 1;
      value = argv[i];
    }
    if (value === undefined) {
      process.stderr.write(`option ${name} needs a value\n${usage}`);
      process.exit(2);
    }
    options[key] = typeof defaults[key] === "number" ? Number(value) : value;
    if (typeof defaults[key] === "number" && !Number.isFinite(options[key])) {
      process.stderr.write(`option ${name} needs a number (got ${value})\n${usage}`);
      process.exit(2);
    }
  }
  if (!options.ordersUrl) {
    process.stderr.write(`--orders-url is required\n${usage}`);
    process.exit(2);
  }
  if (!MODES.includes(options.mode)) {
    process.stderr.write(`--mode must be one of ${MODES.join(", ")} (got ${options.mode})\n${usage}`);
    process.exit(2);
  }
  return options;
}

/** Stop on SIGINT/SIGTERM: run `stop()`, then exit 0. */
export function onStop(stop) {
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, async () => {
      try {
        await stop();
      } finally {
        process.exit(0);
      }
    });
  }
}
