-- Injected faults, set by POST /__mock/faults as a JSON list. Each entry:
--   method    "GET", "POST", ... or "*"/absent for any
--   path      Lua pattern searched in the request path ("^/customers/ctm_")
--   times     how many requests it hits (default 1; 0 or -1: every request)
--   status, headers, body   replace the answer (body: string or JSON value)
--   delay_ms  wait before answering (alone: delays the normal answer)
--   action    "reset" (close, no response), "truncate" (half the body, then
--             close), "garbage" (502 with an HTML body, like a proxy)
-- The first matching entry with hits left wins; hits are counted atomically
-- across workers.
local json = require "paddle.json"

local assert = assert
local find = string.find
local ipairs = ipairs
local pairs = pairs
local pcall = pcall
local type = type
local upper = string.upper

local state = ngx.shared.paddle_mock_state
local null = json.null

local _M = {}

local ACTIONS = { reset = true, truncate = true, garbage = true }
local FIELDS = { method = true, path = true, times = true, status = true, headers = true,
  body = true, delay_ms = true, action = true }

local cached, cached_version

local function load()
  local version = state:get("faults:version") or 0
  if version ~= cached_version then
    cached = json.decode(state:get("faults") or "[]", { arrays = true }) or {}
    cached_version = version
  end
  return cached, version
end

local function forever(f)
  return f.times ~= nil and f.times <= 0
end

local function check_one(i, f, errs)
  local at = "[" .. (i - 1) .. "]"
  if not json.is_object(f) then
    errs[#errs + 1] = { field = at, message = "must be an object" }
    return
  end
  for k in pairs(f) do
    if not FIELDS[k] then errs[#errs + 1] = { field = at .. "." .. k, message = "unknown field" } end
  end
  if f.method ~= nil and type(f.method) ~= "string" then
    errs[#errs + 1] = { field = at .. ".method", message = "must be a string" }
  end
  if type(f.path) ~= "string" or not pcall(find, "", f.path) then
    errs[#errs + 1] = { field = at .. ".path", message = "must be a valid Lua pattern" }
  end
  if f.times ~= nil and (type(f.times) ~= "number" or f.times % 1 ~= 0) then
    errs[#errs + 1] = { field = at .. ".times", message = "must be a whole number" }
  end
  local status = f.status
  if status ~= nil and (type(status) ~= "number" or status < 100 or status > 599 or status % 1 ~= 0) then
    errs[#errs + 1] = { field = at .. ".status", message = "must be an HTTP status (100-599)" }
  end
  if f.delay_ms ~= nil and (type(f.delay_ms) ~= "number" or f.delay_ms < 0) then
    errs[#errs + 1] = { field = at .. ".delay_ms", message = "must be a number >= 0" }
  end
  if f.action ~= nil and not ACTIONS[f.action] then
    errs[#errs + 1] = { field = at .. ".action", message = "must be one of: garbage, reset, truncate" }
  end
  if f.headers ~= nil then
    local ok = json.is_object(f.headers)
    for _, v in pairs(ok and f.headers or {}) do
      if type(v) ~= "string" and type(v) ~= "number" then ok = false end
    end
    if not ok then
      errs[#errs + 1] = { field = at .. ".headers", message = "must be an object of strings" }
    end
  end
  if f.status == nil and f.action == nil and f.delay_ms == nil then
    errs[#errs + 1] = { field = at, message = "needs status, action or delay_ms" }
  end
end

-- Replaces the fault list. Returns nil, errors when invalid.
function _M.set(list)
  local errs = {}
  if not json.is_array(list) then
    return nil, { { field = "faults", message = "must be a JSON array of faults" } }
  end
  for i, f in ipairs(list) do check_one(i, f, errs) end
  if #errs > 0 then return nil, errs end
  local version = state:incr("faults:version", 1, 0)
  for i, f in ipairs(list) do
    if f.method then f.method = upper(f.method) end
    if not forever(f) then state:set("fault:" .. version .. ":" .. i, f.times or 1) end
  end
  state:set("faults", assert(json.encode(list)))
  return true
end

function _M.clear()
  state:incr("faults:version", 1, 0)
  state:set("faults", "[]")
end

-- The fault for this request, if any, with one hit taken.
function _M.match(req)
  local list, version = load()
  if #list == 0 then return nil end
  for i, f in ipairs(list) do
    if (f.method == nil or f.method == "*" or f.method == req.method) and find(req.path, f.path) then
      if forever(f) then return f end
      local left = state:incr("fault:" .. version .. ":" .. i, -1)
      if left and left >= 0 then return f end
    end
  end
  return nil
end

-- The list with the hits each entry has left (null: unlimited).
function _M.list()
  local list, version = load()
  local out = {}
  for i, f in ipairs(list) do
    local copy = {}
    for k, v in pairs(f) do copy[k] = v end
    if forever(f) then
      copy.remaining = null
    else
      local left = state:get("fault:" .. version .. ":" .. i) or 0
      copy.remaining = left > 0 and left or 0
    end
    out[i] = copy
  end
  return json.array(out)
end

return _M
