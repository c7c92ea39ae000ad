"""Prefect flows: orchestration only. Each reads like a table of contents of its stages."""
