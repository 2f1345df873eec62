#!/usr/bin/env bash
# Installs what the end-to-end tests (test/e2e) need: Debian chromium + ripgrep (+ build deps) and a
# runnable code-server 4.100.3 in .e2e/code-server. Idempotent: a marker file makes reruns ~instant.
# See /work/shared/E2E-NOTES.md for why each step exists. Works as root or with sudo, with or without a TTY.
set -euo pipefail

CODE_SERVER_VERSION=4.100.3 # later versions need Node 22+; the repo targets Node 20
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="$ROOT/.e2e/code-server"
CS="$DIR/node_modules/code-server"
MARKER="$DIR/.setup-complete"
MARKER_CONTENT="code-server@$CODE_SERVER_VERSION node@$(node -p 'process.versions.modules')"

export DEBIAN_FRONTEND=noninteractive
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
export npm_config_loglevel="${npm_config_loglevel:-error}"

log() { printf '[setup-e2e] %s\n' "$*"; }
t0=$(date +%s)

# --- 1. System packages (checked on every run: a restored .e2e cache does not bring apt packages) ---
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v rg >/dev/null 2>&1 || missing+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev) # code-server's kerberos module builds against it
if [ ! -f "$MARKER" ]; then
  # Only needed to compile native modules (argon2, kerberos, node-pty, ...) during the first install.
  { command -v make >/dev/null 2>&1 && command -v g++ >/dev/null 2>&1; } || missing+=(build-essential)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { log "need root (or sudo) to apt-get install ${missing[*]}"; exit 1; }
    SUDO="sudo -n"
  fi
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "system packages present (chromium, ripgrep, libkrb5-dev)"
fi

# --- 2. code-server (skipped when the marker matches) ---
if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$MARKER_CONTENT" ] && [ -f "$CS/out/node/entry.js" ]; then
  log "code-server $CODE_SERVER_VERSION already installed in ${DIR#"$ROOT"/} (delete it to reinstall)"
  log "done in $(($(date +%s) - t0)) s"
  exit 0
fi

rm -f "$MARKER"
mkdir -p "$DIR"
# Its own package.json so npm never touches the repo's package.json / lockfile.
[ -f "$DIR/package.json" ] || printf '{\n  "name": "latent-studio-e2e-code-server",\n  "private": true\n}\n' >"$DIR/package.json"

log "npm install --ignore-scripts code-server@$CODE_SERVER_VERSION"
(cd "$DIR" && npm install --ignore-scripts "code-server@$CODE_SERVER_VERSION")

log "lib/vscode: npm install --omit=dev --ignore-scripts"
(cd "$CS/lib/vscode" && npm install --omit=dev --ignore-scripts)

# @vscode/ripgrep's postinstall downloads from GitHub (unreachable); an existing bin/ makes it skip.
mkdir -p "$CS/lib/vscode/node_modules/@vscode/ripgrep/bin"
cp -f "$(command -v rg)" "$CS/lib/vscode/node_modules/@vscode/ripgrep/bin/rg"

log "lib/vscode: npm rebuild (native modules)"
(cd "$CS/lib/vscode" && npm_config_unsafe_perm=true npm_config_yes=true npm rebuild)

log "lib/vscode/extensions: npm install --omit=dev + rebuild"
(cd "$CS/lib/vscode/extensions" && npm install --omit=dev --ignore-scripts &&
  npm_config_unsafe_perm=true npm_config_yes=true npm rebuild)

# The server resolves some modules through node_modules.asar (an Electron-ism); point it at node_modules.
ln -sfn node_modules "$CS/lib/vscode/node_modules.asar"

log "argon2: npm rebuild --build-from-source"
(cd "$DIR" && npm_config_unsafe_perm=true npm rebuild argon2 --build-from-source)

# --- 3. Verify: start it once and wait for /healthz ---
log "verifying: starting code-server once"
TMP="$(mktemp -d)"
PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
setsid node "$CS/out/node/entry.js" --auth none --bind-addr "127.0.0.1:$PORT" --disable-telemetry \
  --disable-update-check --disable-workspace-trust --user-data-dir "$TMP/ud" --config "$TMP/config.yaml" \
  --extensions-dir "$TMP/ext" "$TMP" >"$TMP/server.log" 2>&1 &
PID=$!
# Poll /healthz with node (curl may be missing on a bare machine); up to 20 s.
ok=""
node -e '
  const url = process.argv[1], pid = Number(process.argv[2]), end = Date.now() + 20000;
  const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
  const tick = () => fetch(url).then((r) => { if (r.ok) process.exit(0); throw new Error(String(r.status)); })
    .catch(() => (Date.now() > end || !alive()) ? process.exit(1) : setTimeout(tick, 200));
  tick();' "http://127.0.0.1:$PORT/healthz" "$PID" && ok=1
kill -- "-$PID" 2>/dev/null || kill "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
if [ -z "$ok" ]; then
  log "code-server did not answer /healthz; its log:"
  cat "$TMP/server.log" >&2
  rm -rf "$TMP"
  exit 1
fi
rm -rf "$TMP"

printf '%s' "$MARKER_CONTENT" >"$MARKER"
log "code-server $CODE_SERVER_VERSION ready in ${DIR#"$ROOT"/}; done in $(($(date +%s) - t0)) s"
