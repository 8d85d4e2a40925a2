"""Route strings for pages, in one place."""

HOME = "/"
API_DOCS = "/api/docs"
