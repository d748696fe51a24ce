// The mocha suite of tests/reports/test_junit_tools.py (reporter mocha-junit-reporter).
const assert = require("node:assert");
const API = process.env.API_URL;
const RUN = process.env.RUN_ID || "run";

describe("orders api", function () {
  it("health is UP", async function () {
    assert.strictEqual((await fetch(`${API}/health`)).status, 200);
  });
  it("order is cancelled", async function () {
    const order = await (await fetch(`${API}/orders/1`)).json();
    assert.strictEqual(order.status, "CANCELLED");
  });
  it("reads the database", async function () {
    throw new TypeError("no database");
  });
  it.skip("refunds an order", function () {});
  it("flaky endpoint answers", async function () {
    this.retries(2);
    assert.strictEqual((await fetch(`${API}/flaky/mocha-${RUN}`)).status, 200);
  });
});

describe("payments api", function () {
  beforeEach(function () {
    throw new Error("payments fixture broke");
  });
  it("charges a card", function () {});
  it("refunds a card", function () {});
});
