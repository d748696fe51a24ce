# The suites under junit/suites/ are the real test tools' inputs (tests/reports/test_junit_tools.py runs them
# against a local API), not tests of pipekit: never collected here.
collect_ignore = ["junit"]
