"""The JSON API, version 1, by resource: thin callers of the same model methods and access
helpers as the web pages (`metrics.access`, `Metric.predict`, `Verdict.add_feedback`...)."""
