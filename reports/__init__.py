"""Conformance reports of mmapcheck, built from the raw results of a run.

``python -m reports build`` turns ``reports/out/raw/results.jsonl`` into
``report.json`` (validated against ``reports/schema/report-2.schema.json``),
``report.md`` and a self-contained ``report.html``; ``diff`` and ``matrix``
compare the reports of several platforms.  Nothing is imported here, so
importing the package stays cheap.
"""
