"""HTML views, by page group. Each parses the request, calls one domain method, and renders or redirects."""
