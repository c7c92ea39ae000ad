"""The warehouse: the only package that imports duckdb.

`records` and `settings` are plain pydantic modules every layer may import. Everything that
touches the database goes through a session (`session`): a run's `Warehouse` (run lock, one
connection, the reads of `queries` and the writes of `load` as methods, transactions, paging) or
an analyst's sandboxed read-only one.
"""
