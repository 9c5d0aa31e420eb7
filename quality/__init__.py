"""Quality: declared expectations run with Great Expectations 1.x as Dagster asset checks.

`specs` says which checks each table has (declared ones plus the structural ones Groundwork
adds), `gx_bridge` runs the expectation checks with GX and turns each result into a verdict,
`sql_checks` runs the checks GX cannot express on one table, and `results` keeps every
verdict in `meta.check_results` for the foundation gate and for notebooks.
"""
