"""Tools for operating the deployed system (docs/runbook.md says when to use each)."""
