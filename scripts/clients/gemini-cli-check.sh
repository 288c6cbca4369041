#!/usr/bin/env bash
# gemini-cli-check.sh: runs Gemini CLI once, non-interactively, against
# quotatui's proxy as its Code Assist endpoint, through capture.mjs so the
# v1internal methods it called are listed afterwards.
#
#   ./gemini-cli-check.sh [proxy-url]      (default http://127.0.0.1:18045)
#
# Environment: MODEL (-m for gemini, default: the CLI's own choice),
# PROMPT (default "hi"), QUOTATUI_PROXY_API_KEY (sent as the CLI's bearer
# token, which the proxy accepts as its API key; any value when it has
# none), GEMINI (the gemini binary, default node_modules/.bin/gemini),
# CAPTURE_PORT (default 18049).
set -euo pipefail

proxy=${1:-${QUOTATUI_PROXY:-http://127.0.0.1:18045}}
dir=$(cd "$(dirname "$0")" && pwd)
gemini=${GEMINI:-$dir/node_modules/.bin/gemini}
port=${CAPTURE_PORT:-18049}

# A throwaway home: "Login with Google" with a token from the environment
# (GOOGLE_CLOUD_ACCESS_TOKEN), so the CLI never asks Google for one; the
# proxy swaps it for the chosen account's anyway.
home=$(mktemp -d)
mkdir -p "$home/.gemini"
cat >"$home/.gemini/settings.json" <<'JSON'
{"security":{"auth":{"selectedType":"oauth-personal"}},"privacy":{"usageStatisticsEnabled":false},"telemetry":{"enabled":false}}
JSON

log="$home/capture.jsonl"
node "$dir/capture.mjs" "$port" "$proxy" "$log" 2>/dev/null &
capture=$!
trap 'kill $capture 2>/dev/null; rm -rf "$home"' EXIT
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.1
done
if ! kill -0 "$capture" 2>/dev/null; then
  echo "capture.mjs could not listen on 127.0.0.1:$port (busy? set CAPTURE_PORT)" >&2
  exit 2
fi

args=(-p "${PROMPT:-hi}")
[[ -n ${MODEL:-} ]] && args+=(-m "$MODEL")
rc=0
start=$SECONDS
(cd "$home" && HOME=$home GEMINI_CLI_TRUST_WORKSPACE=true GOOGLE_GENAI_USE_GCA=true \
  GOOGLE_CLOUD_ACCESS_TOKEN=${QUOTATUI_PROXY_API_KEY:-dummy} CODE_ASSIST_ENDPOINT=http://127.0.0.1:$port \
  "$gemini" "${args[@]}") >"$home/out" 2>"$home/err" || rc=$?

echo "gemini exited $rc after $((SECONDS - start)) s"
echo "--- answer"
cat "$home/out"
echo "--- last lines of stderr"
grep -v '^    at ' "$home/err" | tail -n 8 || true
echo "--- v1internal calls (count, method, path)"
[[ -s $log ]] || { echo "   (none)"; exit "$rc"; }
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean);
const n = {};
for (const l of lines) { const r = JSON.parse(l); const k = r.method + " " + r.url; n[k] = (n[k] ?? 0) + 1; }
for (const [k, v] of Object.entries(n)) console.log(String(v).padStart(4), k);
' "$log"
exit "$rc"
