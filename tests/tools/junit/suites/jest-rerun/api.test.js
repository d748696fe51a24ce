// A flaky test without jest.retryTimes: post-sync-test --rerun-failed reruns the file (--onlyFailures).
const API = process.env.API_URL;
const RUN = process.env.RUN_ID || "run";

test("health is UP", async () => {
  expect((await fetch(`${API}/health`)).status).toBe(200);
});

test("flaky endpoint answers", async () => {
  expect((await fetch(`${API}/flaky/jest-rerun-${RUN}`)).status).toBe(200);
});
