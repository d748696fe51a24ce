"""Readers of scanner and test reports into one model, and writers of SARIF / JUnit."""
