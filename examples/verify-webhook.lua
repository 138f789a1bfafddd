-- examples/verify-webhook.lua: verify a saved Paddle webhook body.
--
--   PADDLE_WEBHOOK_SECRET=pdl_ntfset_... \
--     lua5.4 examples/verify-webhook.lua [--tolerance SECONDS] body.json 'ts=...;h1=...'
--
-- Prints the event type and id, or the error; exits 0 when the body is an
-- authentic Paddle event, 1 when it is not, 2 on a usage error. A body saved
-- a while ago is outside the default 5 s tolerance: pass --tolerance (say
-- 86400, or inf) to check only the signature. Several secrets, comma
-- separated, are all tried (rotation). Run from a checkout it finds lua/ and
-- build/5.4 (build/luajit under luajit) by itself; installed with LuaRocks it
-- uses the usual paths.
do -- a checkout's lua/ and build dir, found from this script's own path
  local root = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/.."
  local build = rawget(_G, "jit") and "/build/luajit" or "/build/5.4"
  package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
  package.cpath = root .. build .. "/?.so;" .. package.cpath
end

local webhooks = require "paddle.webhooks"

local USAGE = "usage: PADDLE_WEBHOOK_SECRET=... lua5.4 examples/verify-webhook.lua"
  .. " [--tolerance SECONDS] BODY_FILE SIGNATURE_HEADER"

local function usage(msg)
  io.stderr:write(msg and ("verify-webhook: " .. msg .. "\n") or "", USAGE, "\n")
  os.exit(2)
end

local args, tolerance = {}, nil
local i = 1
while arg[i] do
  local a = arg[i]
  if a == "--tolerance" then
    tolerance = arg[i + 1] == "inf" and math.huge or tonumber(arg[i + 1])
    if not tolerance or tolerance < 0 then usage("--tolerance needs a number of seconds >= 0") end
    i = i + 2
  elseif a == "-h" or a == "--help" then
    usage()
  else
    args[#args + 1] = a
    i = i + 1
  end
end
if #args ~= 2 then usage() end

local secrets = {}
for s in (os.getenv("PADDLE_WEBHOOK_SECRET") or ""):gmatch("[^,%s]+") do secrets[#secrets + 1] = s end
if #secrets == 0 then usage("set PADDLE_WEBHOOK_SECRET (the notification destination's secret key)") end

local f, ferr = io.open(args[1], "rb") -- the exact bytes: binary mode
if not f then usage(ferr) end
local body = f:read("*a")
f:close()

local event, err = webhooks.parse(body, args[2], secrets, { tolerance = tolerance })
if not event then
  print("invalid: " .. tostring(err)) -- never contains the secret
  os.exit(1)
end
print(string.format("valid: %s %s (occurred_at %s, notification %s)", event.event_type,
  event.event_id, tostring(event.occurred_at), tostring(event.notification_id)))
os.exit(0)
