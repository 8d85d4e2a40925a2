"""`reflex ...`, reusing the last production frontend build when its inputs are unchanged.

For tests (scripts/run.sh with VOXIE_REUSE_FRONTEND_BUILD=1, which tests/apprunner.py
sets): the browser tests start the app some 25 times a run, and each
`reflex run --env prod` compiles the app into `.web/` and then runs the Vite
production build (20-40 s) even when what it compiled is what the last build
was made from. Here the compile runs as always; only the Vite build is skipped
when a digest of everything it reads (the compiled `.web/` sources, the
installed packages' lock, the toolchain's environment) equals the digest saved
with the last build. The digest leaves out only reflex.json's timestamps (the
bundle carries them; nothing reads them). Any other difference builds anew, and
`reflex`'s own build deletes `.web/build` (and the digest in it) first.

reflex 0.10.1 has no flag for this: `--backend-only` does not serve the
frontend and `--single-port` refuses `--frontend-only`/`--backend-only`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from reflex.reflex import cli
from reflex.utils import build, prerequisites

DIGEST_FILE = "voxie-build-inputs.sha256"  # in .web/build (not served: that is .web/build/client)
SKIPPED_DIRS = {"build", "node_modules"}
VOLATILE_REFLEX_JSON_KEYS = (
    "last_version_check_attempt_datetime",
    "last_version_check_datetime",
    "last_reflex_run_datetime",
)
# What the toolchain (npm, react-router, Vite, PostCSS) reads from the environment.
ENV_PREFIXES = ("VITE_", "NODE_", "REFLEX_", "npm_", "MIMALLOC_")


def _file_bytes(web: Path, path: Path) -> bytes:
    if path == web / "reflex.json":
        data = json.loads(path.read_text())
        for key in VOLATILE_REFLEX_JSON_KEYS:
            data.pop(key, None)
        return json.dumps(data, sort_keys=True).encode()
    return path.read_bytes()


def inputs_digest(web: Path) -> str:
    """A digest of what the production build reads: same digest, same build."""
    h = hashlib.sha256()
    files = [web / "node_modules" / ".package-lock.json"]
    for dirpath, dirnames, filenames in os.walk(web):
        here = Path(dirpath)
        if here == web:
            dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS]
        dirnames.sort()
        files += [here / name for name in sorted(filenames)]
    for path in files:
        h.update(str(path.relative_to(web)).encode() + b"\0")
        h.update(_file_bytes(web, path) if path.is_file() else b"<missing>")
        h.update(b"\0")
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES) or k == "PORT"}
    h.update(json.dumps(env, sort_keys=True).encode())
    for tool in ("node", "npm"):
        found = shutil.which(tool)
        stat = os.stat(found) if found else None
        h.update(f"{tool}={found}:{stat and (stat.st_size, stat.st_mtime_ns)}".encode())
    return h.hexdigest()


_reflex_build = build.build


def build_unless_unchanged() -> None:
    """`reflex`'s production build, skipped when the last one had the same inputs."""
    web = prerequisites.get_web_dir()
    digest = inputs_digest(web)
    saved = web / "build" / DIGEST_FILE
    if saved.is_file() and saved.read_text() == digest and (web / "build" / "client").is_dir():
        print("frontend: reusing the production build (its inputs are unchanged)", flush=True)
        return
    _reflex_build()
    saved.write_text(digest)


if __name__ == "__main__":
    build.build = build_unless_unchanged  # setup_frontend_prod calls build() through the module
    sys.argv[0] = "reflex"
    sys.exit(cli())
