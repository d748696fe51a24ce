// The Playwright suite of tests/reports/test_junit_tools.py: API tests with the request fixture (no browser).
module.exports = {
  testDir: "tests",
  retries: 1,
  workers: 1,
  reporter: [["junit", { outputFile: "results/junit.xml" }], ["list"]],
  use: { baseURL: process.env.API_URL },
};
