const { When, Then, Before } = require("@cucumber/cucumber");
const assert = require("node:assert");
const API = process.env.API_URL;
const RUN = process.env.RUN_ID || "run";

Before({ tags: "@skip" }, function () {
  return "skipped";
});
When("I get {string}", async function (path) {
  this.response = await fetch(API + path.replace("RUN", RUN));
});
Then("the status is {int}", function (status) {
  assert.strictEqual(this.response.status, status);
});
Then("the order status is {string}", async function (status) {
  assert.strictEqual((await this.response.json()).status, status);
});
When("the database is read", function () {
  throw new TypeError("no database");
});
