"""The scalp gate: refuses uploads that are not microscopic scalp frames."""
