"""Pure machine learning for Make or Break: training, explanation, artifacts and charts.

No ORM, no request, no Django model: arrays in, fitted trees, numbers and pictures out.
`metrics` (the domain) imports this package; this package never imports `metrics`.
Heavy libraries (scikit-learn, pandas, matplotlib, seaborn, plotly) are imported inside
the functions that use them, so that a web process starts without loading them.
"""
