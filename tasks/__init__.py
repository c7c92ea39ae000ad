"""Pipeline stages: pure functions first, one thin Prefect task wrapper at the bottom of each."""
