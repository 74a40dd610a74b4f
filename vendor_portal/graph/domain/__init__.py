"""The dependency graph and its analyses, in plain Python (no Flask, no SQLAlchemy).

- `model`: nodes, edges, requirements, the indexed graph and failure propagation;
- `interchange`: the stable JSON / CSV format, validated all-or-nothing;
- `spof`: SPOF sets with witnesses, gaps, common causes and concentration (a fast dynamic
  programme, and the brute-force reference it must agree with);
- `scenario`: failing nodes, countries or regions; restoration order with loops named;
- `words`: the findings in sentences; `documents`: the JSON answers;
- `layout`: a layered drawing; `willems`: real supply chains (Willems 2008) as graphs;
- `business`: business service rules; `synthetic`: generated supply maps for benchmarks.
"""
