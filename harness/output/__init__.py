"""Output: the result folder, JUnit, the table and the HTML report."""
