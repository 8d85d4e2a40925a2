"""Domain services: plain Python over a SQLModel session. No Reflex, no HTTP.

Every rule lives here once; the API routes, Reflex states and the worker call
these functions. Functions take keyword arguments and a `session`; the caller
owns the transaction (see `voxie_app.db.session_scope`).
"""

from voxie_app.services import rollups as _rollups

# Analytics rollups stay right only if every session that writes calls runs
# the invalidation hook: install it wherever the services are imported.
_rollups.install()
