#!/usr/bin/env bash
# spec/nginx/webhook_check.sh: start a throwaway nginx (Debian's nginx + the
# Lua module, 2 workers) with examples/webhook-openresty.conf and
# examples/webhook_handler.lua, post webhooks signed by the openssl command
# to it, and print TAP. Exits non-zero on any failure; stops its nginx and
# removes its temp dir (NGINX_KEEP=1 keeps it).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
MODULES=${NGINX_MODULES:-/usr/lib/nginx/modules}
SECRET=pdl_ntfset_01hv6y1jtn1fr98zq3cvcheck_Zq8x4vT2mK9pW3rS7uYb1nD5fH0jL6cE
OLD_SECRET=pdl_ntfset_01hv6y1jtn1fr98zq3cvcheck_oldsecretoldsecretoldsecretold

TMP=$(mktemp -d /tmp/paddle-webhook-check.XXXXXX)
chmod 755 "$TMP"
NGINX_PID=""
n=0
failures=0

cleanup() {
  if [ -n "$NGINX_PID" ]; then
    kill -QUIT "$NGINX_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$NGINX_PID" 2>/dev/null
    wait "$NGINX_PID" 2>/dev/null
  fi
  if [ -n "${NGINX_KEEP:-}" ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { # name, command...
  local name=$1; shift
  if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# --- build and configure ----------------------------------------------------
if [ ! -f "$ROOT/build/luajit/paddle/core.so" ]; then
  make -C "$ROOT" --no-print-directory LUA=luajit all >/dev/null || { echo "Bail out! cannot build"; exit 1; }
fi
PORT=""
for _ in $(seq 200); do
  p=$(((RANDOM * 32768 + RANDOM) % 12000 + 20000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "Bail out! no free port"; exit 1; }

mkdir -p "$TMP/logs" "$TMP/tmp"
sed -e "s|/opt/lua-paddle|$ROOT|g" -e "s|listen 8080;|listen 127.0.0.1:$PORT;|" \
  "$ROOT/examples/webhook-openresty.conf" >"$TMP/webhook.conf"
user_line=""
if [ "$(id -u)" = 0 ]; then user_line="user $(id -un) $(id -gn);"; fi
cat >"$TMP/nginx.conf" <<EOF
load_module $MODULES/ndk_http_module.so;
load_module $MODULES/ngx_http_lua_module.so;
$user_line
env PADDLE_WEBHOOK_SECRET;
daemon off;
master_process on;
worker_processes 2;
pid $TMP/logs/nginx.pid;
error_log $TMP/logs/error.log info;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path $TMP/tmp/body;
  proxy_temp_path $TMP/tmp/proxy;
  fastcgi_temp_path $TMP/tmp/fastcgi;
  uwsgi_temp_path $TMP/tmp/uwsgi;
  scgi_temp_path $TMP/tmp/scgi;
  include $TMP/webhook.conf;
}
EOF

PADDLE_WEBHOOK_SECRET="$SECRET,$OLD_SECRET" "$NGINX_BIN" -p "$TMP" -c "$TMP/nginx.conf" \
  2>"$TMP/logs/stderr.log" &
NGINX_PID=$!
up=""
for _ in $(seq 200); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then up=1; break; fi
  kill -0 "$NGINX_PID" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$up" ]; then
  not_ok "nginx starts with examples/webhook-openresty.conf" "$(cat "$TMP/logs/stderr.log" "$TMP/logs/error.log" 2>/dev/null)"
  echo "1..$n"
  exit 1
fi
ok "nginx starts with examples/webhook-openresty.conf"

URL="http://127.0.0.1:$PORT/paddle/webhook"

# --- helpers ----------------------------------------------------------------
event_body() { # file, event_id, [padding bytes]
  local pad=""
  if [ "${3:-0}" -gt 0 ]; then pad=$(head -c "$3" /dev/zero | tr '\0' 'p'); fi
  printf '{"event_id":"%s","event_type":"customer.created","occurred_at":"2024-04-11T15:57:25.205966Z","notification_id":"ntf_01","data":{"id":"ctm_01","email":"jo@example.com","custom_data":{"pad":"%s"}}}' \
    "$2" "$pad" >"$1"
}
sign() { # secret, ts, body file -> header value (HMAC by the openssl command)
  local h1
  h1=$({ printf '%s:' "$2"; cat "$3"; } | openssl dgst -sha256 -hmac "$1" | sed 's/^.*= *//')
  printf 'ts=%s;h1=%s' "$2" "$h1"
}
post() { # body file, header value or "" -> "status body"
  local args=(-s -o "$TMP/resp" -w '%{http_code}' --data-binary "@$1" -H 'Content-Type: application/json')
  if [ -n "$2" ]; then args+=(-H "Paddle-Signature: $2"); fi
  local code
  code=$(curl "${args[@]}" "$URL")
  printf '%s %s' "$code" "$(cat "$TMP/resp")"
}
expect() { # name, expected status, expected message, actual "status body"
  local status=${4%% *} body=${4#* }
  if [ "$status" = "$2" ] && [[ $body == *"\"message\":\"$3\""* ]]; then
    ok "$1"
  else
    not_ok "$1" "expected $2 $3, got: $4"
  fi
}
processed_count() { grep -cE "paddle webhook stored customer.created $1(,|\$)" "$TMP/logs/error.log"; }
spooled_count() { grep -c "\"event_id\":\"$1\"" "$TMP/paddle-events.jsonl"; }
wait_processed() { # event id: until its storing is logged (bounded wait)
  for _ in $(seq 100); do
    [ "$(processed_count "$1")" -ge 1 ] && return 0
    sleep 0.05
  done
  return 1
}

now=$(date +%s)

# --- a first delivery, then Paddle's retry of it ------------------------------
event_body "$TMP/e1.json" evt_check_1
expect "a signed event is accepted with 200" 200 accepted "$(post "$TMP/e1.json" "$(sign "$SECRET" "$now" "$TMP/e1.json")")"
check "it is stored before the answer" wait_processed evt_check_1
expect "a retried delivery (signed afresh) is acknowledged as a duplicate" 200 duplicate \
  "$(post "$TMP/e1.json" "$(sign "$SECRET" "$((now + 1))" "$TMP/e1.json")")"
event_body "$TMP/e4.json" evt_check_4
expect "an event signed with the other configured secret (rotation) is accepted" 200 accepted \
  "$(post "$TMP/e4.json" "$(sign "$OLD_SECRET" "$now" "$TMP/e4.json")")"

# --- the same new event posted 12 times at once, across 2 workers --------------
event_body "$TMP/e2.json" evt_check_2
h2=$(sign "$SECRET" "$now" "$TMP/e2.json")
for i in $(seq 12); do
  curl -s -o "$TMP/par$i" --data-binary "@$TMP/e2.json" -H "Paddle-Signature: $h2" "$URL" &
done
wait_curls() { local j; for j in $(jobs -p); do [ "$j" = "$NGINX_PID" ] || wait "$j"; done; }
wait_curls
accepted=$(cat "$TMP"/par* | grep -c '"accepted"')
duplicates=$(cat "$TMP"/par* | grep -c '"duplicate"')
if [ "$accepted" = 1 ] && [ "$duplicates" = 11 ]; then
  ok "12 concurrent deliveries: one accepted, 11 duplicates"
else
  not_ok "12 concurrent deliveries: one accepted, 11 duplicates" "accepted $accepted, duplicates $duplicates"
fi
check "the concurrent event is processed" wait_processed evt_check_2

# --- a body bigger than client_body_buffer_size (read from nginx's temp file) --
event_body "$TMP/big.json" evt_check_big 100000
expect "a 100 KB body buffered to a temp file verifies" 200 accepted \
  "$(post "$TMP/big.json" "$(sign "$SECRET" "$now" "$TMP/big.json")")"
check "the big event is processed" wait_processed evt_check_big
check "nginx did buffer that body to a file" grep -q "request body is buffered to a temporary file" "$TMP/logs/error.log"

# --- rejections ---------------------------------------------------------------
event_body "$TMP/e3.json" evt_check_3
h3=$(sign "$SECRET" "$now" "$TMP/e3.json")
sed 's/jo@example.com/mallory@example.com/' "$TMP/e3.json" >"$TMP/e3-tampered.json"
expect "a tampered body is refused with 400" 400 signature_mismatch "$(post "$TMP/e3-tampered.json" "$h3")"
expect "a wrong secret is refused" 400 signature_mismatch \
  "$(post "$TMP/e3.json" "$(sign "not-the-secret" "$now" "$TMP/e3.json")")"
expect "a missing header is refused" 400 missing_signature "$(post "$TMP/e3.json" "")"
expect "a malformed header is refused" 400 malformed_signature "$(post "$TMP/e3.json" "ts=$now")"
expect "a replayed old event is refused" 400 timestamp_out_of_tolerance \
  "$(post "$TMP/e3.json" "$(sign "$SECRET" "$((now - 600))" "$TMP/e3.json")")"
expect "an authentic body that is not an event is refused" 400 invalid_payload \
  "$(printf 'hello' >"$TMP/hello"; post "$TMP/hello" "$(sign "$SECRET" "$now" "$TMP/hello")")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL")
if [ "$code" = 405 ]; then ok "GET is refused with 405"; else not_ok "GET is refused with 405" "got $code"; fi
expect "the refused event was not claimed: a good delivery is accepted" 200 accepted "$(post "$TMP/e3.json" "$h3")"
check "which is processed" wait_processed evt_check_3

# --- the store fails: 500 (Paddle redelivers), and the redelivery is stored ---
event_body "$TMP/e5.json" evt_check_5
mv "$TMP/paddle-events.jsonl" "$TMP/spool.keep" && mkdir "$TMP/paddle-events.jsonl"
expect "an event that cannot be stored is answered 500, not acknowledged" 500 "try again" \
  "$(post "$TMP/e5.json" "$(sign "$SECRET" "$now" "$TMP/e5.json")")"
rmdir "$TMP/paddle-events.jsonl" && mv "$TMP/spool.keep" "$TMP/paddle-events.jsonl"
expect "Paddle's redelivery of it is stored and accepted" 200 accepted \
  "$(post "$TMP/e5.json" "$(sign "$SECRET" "$((now + 1))" "$TMP/e5.json")")"

# --- logs ---------------------------------------------------------------------
wait_processed evt_check_4
c=$(for e in 1 2 big 3 4 5; do processed_count "evt_check_$e"; done | tr -d '\n')
if [ "$c" = 111111 ]; then ok "every event was stored exactly once"; else not_ok "every event was stored exactly once" "counts $c"; fi
c=$(for e in 1 2 big 3 4 5; do spooled_count "evt_check_$e"; done | tr -d '\n')
if [ "$c" = 111111 ]; then ok "each event is in the spool file once"; else not_ok "each event is in the spool file once" "counts $c"; fi
check "rejections are logged with their code" grep -q "paddle webhook rejected: paddle: signature_mismatch" "$TMP/logs/error.log"
if grep -q -e "$SECRET" -e "$OLD_SECRET" "$TMP/logs/error.log"; then
  not_ok "the error log never shows a secret"
else
  ok "the error log never shows a secret"
fi
if grep -E '\[(alert|emerg|crit)\]' "$TMP/logs/error.log" >/dev/null; then
  not_ok "no alert/crit/emerg in the error log" "$(grep -E '\[(alert|emerg|crit)\]' "$TMP/logs/error.log" | head -5)"
else
  ok "no alert/crit/emerg in the error log"
fi

echo "1..$n"
[ "$failures" -eq 0 ]
