// A test file that fails to load: jest-junit drops it unless reportTestSuiteErrors is on.
require("./payments-client-that-does-not-exist");

test("charges a card", () => {});
