"""Writers of the gate's outcome: merged SARIF 2.1.0, JUnit XML, the summary table."""
