"""Reading metric stores (Prometheus, Amazon CloudWatch) over HTTP: one value now, or a range of them.

Pure: it imports nothing of the project, nor Django. The domain (`metrics`) words its
errors for people (each carries a `kind`) and decides what to store.
"""
