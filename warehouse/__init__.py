"""The warehouse: the only package that imports duckdb.

`records` and `settings` are plain pydantic modules every layer may import; the
modules that touch the database (`connection`, `migrate`, `load`, `queries`) are
imported explicitly by task wrappers and the CLI.
"""
