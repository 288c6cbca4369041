#!/usr/bin/env bash
# claude-code-check.sh: runs Claude Code headless (claude -p) against
# quotatui's proxy, through capture.mjs, as the brief's §8.3 describes: a
# fresh config dir with onboarding accepted, a clean environment, no
# network but loopback. Prints Claude Code's JSON result and the requests
# it made.
#
#   ./claude-code-check.sh [proxy-url]      (default http://127.0.0.1:18045)
#
# Environment: MODEL (--model, default claude-sonnet-4-6), PROMPT (default:
# run the Bash tool once with echo hi), MAX_TURNS (default 4),
# QUOTATUI_PROXY_API_KEY (sent as ANTHROPIC_AUTH_TOKEN; any value when the
# proxy has none), CLAUDE (the binary, default node_modules/.bin/claude),
# CAPTURE_PORT (default 18050), KEEP (any value: keep the temporary home
# with capture.jsonl for a look at the requests). Exits with Claude Code's status, or 3 when
# its result says is_error.
set -euo pipefail

proxy=${1:-${QUOTATUI_PROXY:-http://127.0.0.1:18045}}
dir=$(cd "$(dirname "$0")" && pwd)
claude=${CLAUDE:-$dir/node_modules/.bin/claude}
port=${CAPTURE_PORT:-18050}

home=$(mktemp -d)
work=$home/work
mkdir -p "$work" "$home/.claude"
# Without onboarding state claude -p can exit 0 without calling the API.
cat >"$home/.claude/.claude.json" <<JSON
{"hasCompletedOnboarding":true,"projects":{"$work":{"hasTrustDialogAccepted":true}}}
JSON

log="$home/capture.jsonl"
node "$dir/capture.mjs" "$port" "$proxy" "$log" 2>/dev/null &
capture=$!
trap 'kill $capture 2>/dev/null; if [[ -n ${KEEP:-} ]]; then echo "kept $home"; else rm -rf "$home"; fi' EXIT
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.1
done
kill -0 "$capture" 2>/dev/null || { echo "capture.mjs could not listen on 127.0.0.1:$port" >&2; exit 2; }

rc=0
start=$SECONDS
(cd "$work" && env -i PATH="$PATH" HOME="$home" CLAUDE_CONFIG_DIR="$home/.claude" \
  ANTHROPIC_BASE_URL="http://127.0.0.1:$port" ANTHROPIC_AUTH_TOKEN="${QUOTATUI_PROXY_API_KEY:-dummy}" \
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 CLAUDE_CODE_MAX_RETRIES=0 API_TIMEOUT_MS=60000 \
  ANTHROPIC_DEFAULT_HAIKU_MODEL="${MODEL:-claude-sonnet-4-6}" \
  "$claude" -p "${PROMPT:-Run the Bash tool once with the command: echo hi}" --model "${MODEL:-claude-sonnet-4-6}" \
  --allowedTools Bash --max-turns "${MAX_TURNS:-4}" --output-format json) >"$home/out" 2>"$home/err" || rc=$?

echo "claude exited $rc after $((SECONDS - start)) s"
echo "--- result"
cat "$home/out"; echo
echo "--- last lines of stderr"
tail -n 8 "$home/err" || true
echo "--- requests (count, method, path)"
[[ -s $log ]] || { echo "   (none)"; exit "$rc"; }
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean);
const n = {};
for (const l of lines) { const r = JSON.parse(l); const k = r.method + " " + r.url.split("?")[0]; n[k] = (n[k] ?? 0) + 1; }
for (const [k, v] of Object.entries(n)) console.log(String(v).padStart(4), k);
' "$log"
if [[ $rc -eq 0 ]] && node -e 'process.exit(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).is_error ? 1 : 0)' "$home/out"; then
  exit 0
fi
[[ $rc -ne 0 ]] && exit "$rc"
exit 3
