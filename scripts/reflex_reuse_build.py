"""`reflex ...`, reusing the last production frontend build when its inputs are unchanged.

For tests (scripts/run.sh with VOXIE_REUSE_FRONTEND_BUILD=1, which tests/apprunner.py
sets): the browser tests start the app some 25 times a run, and each
`reflex run --env prod` compiles the app into `.web/` and then runs the Vite
production build (20-40 s) even when what it compiled is what the last build
was made from. Here the Vite build is skipped when a digest of everything it
reads (the compiled `.web/` sources, the installed packages' lock, the
toolchain's environment) equals the digest saved with the last build. The
digest leaves out only reflex.json's timestamps (the bundle carries them;
nothing reads them). Any other difference builds anew, and
`reflex`'s own build deletes `.web/build` (and the digest in it) first. The
last few builds are kept in `.web/voxie-build-cache/` by digest, so settings
that alternate between test modules do not rebuild either.

The compile is skipped too when nothing it reads changed since the run that
left `.web/` as it is: the app's sources and assets, the installed packages and
the environment (but for which file or database DATABASE_URL names: its kind
counts), with `.web/` still what that run compiled and built.

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

from reflex import reflex as reflex_cli
from reflex.utils import build, prerequisites

ROOT = Path(__file__).resolve().parent.parent
# In .web/build (not served: that is .web/build/client), so any real build deletes them.
DIGEST_FILE = "voxie-build-inputs.sha256"
COMPILE_KEY_FILE = "voxie-compile-inputs.sha256"
APP_SOURCES = ("rxconfig.py", "voxie_app", "assets", ".env", ".env.local", "requirements.txt")
# The last few builds, by the digest of their inputs: test modules alternate settings.
CACHE_DIR = "voxie-build-cache"
CACHED_BUILDS = 3
SKIPPED_DIRS = {"build", "node_modules", CACHE_DIR}
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


def _tree_files(top: Path, skipped: set[str]) -> list[Path]:
    if top.is_file():
        return [top]
    files = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d not in skipped)
        files += [Path(dirpath) / name for name in sorted(filenames)]
    return files


def compile_digest() -> str:
    """A digest of what compiling the app reads (not `.web/`, which it writes)."""
    h = hashlib.sha256()
    for source in APP_SOURCES:
        for path in _tree_files(ROOT / source, {"__pycache__"}):
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    site = Path(reflex_cli.__file__).resolve().parent.parent
    h.update(" ".join(sorted(p.name for p in site.glob("*.dist-info"))).encode())
    env = dict(os.environ)
    env.pop("PYTEST_CURRENT_TEST", None)
    # Which database the app uses does not change what it compiles to; its kind might.
    env["DATABASE_URL"] = env.get("DATABASE_URL", "").split(":", 1)[0]
    h.update(json.dumps(env, sort_keys=True).encode())
    return h.hexdigest()


def inputs_digest(web: Path) -> str:
    """A digest of what the production build reads: same digest, same build."""
    h = hashlib.sha256()
    files = [web / "node_modules" / ".package-lock.json"]
    for child in sorted(web.iterdir()):
        if child.name not in SKIPPED_DIRS:
            files += _tree_files(child, set())
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


def _saved(name: str) -> str | None:
    path = prerequisites.get_web_dir() / "build" / name
    return path.read_text() if path.is_file() else None


def _save(name: str, digest: str) -> None:
    (prerequisites.get_web_dir() / "build" / name).write_text(digest)


_reflex_compile_app = reflex_cli._compile_app
_reflex_build = build.build
_compile_key: list[str] = []  # this run's compile digest, saved once the build is in place


def compile_unless_unchanged(**kwargs: bool) -> None:
    """`reflex run`'s compile, skipped when its inputs and `.web/` are the last run's."""
    web = prerequisites.get_web_dir()
    key = compile_digest()
    if (
        _saved(COMPILE_KEY_FILE) == key
        and (web / "build" / "client").is_dir()
        and _saved(DIGEST_FILE) == inputs_digest(web)
    ):
        print("frontend: reusing the compiled app (its inputs are unchanged)", flush=True)
    else:
        (web / "build" / COMPILE_KEY_FILE).unlink(missing_ok=True)
        _reflex_compile_app(**kwargs)
    _compile_key.append(key)


def build_unless_unchanged() -> None:
    """`reflex`'s production build, skipped when the last one had the same inputs."""
    web = prerequisites.get_web_dir()
    digest = inputs_digest(web)
    cached = web / CACHE_DIR / digest
    if _saved(DIGEST_FILE) == digest and (web / "build" / "client").is_dir():
        print("frontend: reusing the production build (its inputs are unchanged)", flush=True)
    elif (cached / DIGEST_FILE).is_file():
        shutil.rmtree(web / "build", ignore_errors=True)
        shutil.copytree(cached, web / "build", symlinks=True)
        cached.touch()  # recently used
        print("frontend: reusing an earlier production build with these inputs", flush=True)
    else:
        _reflex_build()
        _save(DIGEST_FILE, digest)
        _keep(web, digest)
    for key in _compile_key:
        _save(COMPILE_KEY_FILE, key)


def _keep(web: Path, digest: str) -> None:
    """Copy the build just made into the cache; drop the least recently used beyond a few."""
    cache = web / CACHE_DIR
    shutil.rmtree(cache / f"{digest}.tmp", ignore_errors=True)
    shutil.copytree(web / "build", cache / f"{digest}.tmp", symlinks=True)
    shutil.rmtree(cache / digest, ignore_errors=True)
    (cache / f"{digest}.tmp").rename(cache / digest)  # complete or absent
    kept = sorted(cache.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[CACHED_BUILDS:]:
        shutil.rmtree(old, ignore_errors=True)


if __name__ == "__main__":
    # `reflex run --env prod` calls both through their modules' globals.
    reflex_cli._compile_app = compile_unless_unchanged
    build.build = build_unless_unchanged
    sys.argv[0] = "reflex"
    sys.exit(reflex_cli.cli())
