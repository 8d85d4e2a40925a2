"""The REST API (`/api/*`), a FastAPI app that Reflex mounts itself under."""
