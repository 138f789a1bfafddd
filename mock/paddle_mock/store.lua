-- In-memory state shared by all nginx workers (lua_shared_dict).
--   r:<id>            record, stored as the JSON the API returns
--   n:<coll>          number of slots in an ordered collection
--   i:<coll>:<slot>   id at that slot; slots follow creation, so id order
--   k:<name>          counters (e.g. customers per status)
--   e:<email>, s:<id> customer email index and search text
-- A collection is "ctm" (all customers) or "add:<ctm id>" (one customer's
-- addresses) and so on. Ids get strictly increasing times under a short lock,
-- so slot order and id order agree even with several workers.
local ids = require "paddle_mock.ids"
local clock = require "paddle_mock.clock"

local error = error
local floor = math.floor
local max = math.max
local pcall = pcall
local tostring = tostring

local data = ngx.shared.paddle_mock_data
local state = ngx.shared.paddle_mock_state
local sleep = ngx.sleep

local _M = {}

local function out_of_memory(key)
  error({ status = 500, detail = "paddle-mock ran out of shared memory storing " .. key
    .. " (start it with a larger --memory)" }, 0)
end

local function must_set(key, value)
  local ok, err = data:safe_set(key, value)
  if not ok then
    if err == "no memory" then out_of_memory(key) end
    error("shared dict set " .. key .. ": " .. tostring(err))
  end
end
_M.must_set = must_set

-- A spin lock over a few non-yielding dict operations; it expires on its own
-- should a worker die holding it.
local function with_lock(fn, ...)
  while not state:add("lock", true, 1) do sleep(0.001) end
  local ok, a, b = pcall(fn, ...)
  state:delete("lock")
  if not ok then error(a, 0) end
  return a, b
end
_M.with_lock = with_lock

-- First of n consecutive, never reused millisecond times for prefix.
local function take_times(prefix, n)
  local key = "t:" .. prefix
  local now_ms = floor(clock.now_us() / 1000)
  local first = max(now_ms, (state:get(key) or 0) + 1)
  state:set(key, first + n - 1)
  return first
end

function _M.get(id)
  return data:get("r:" .. id)
end

function _M.put(id, json)
  must_set("r:" .. id, json)
end

function _M.delete(id)
  data:delete("r:" .. id)
end

local function append(coll, id)
  local slot = data:incr("n:" .. coll, 1, 0)
  must_set("i:" .. coll .. ":" .. slot, id)
end

-- Creates a record: build(id) returns its JSON; it is indexed in every
-- collection of colls. Returns id and JSON.
function _M.insert(prefix, colls, build)
  return with_lock(function()
    local id = ids.make(prefix, take_times(prefix, 1))
    local json = build(id)
    must_set("r:" .. id, json)
    for i = 1, #colls do append(colls[i], id) end
    return id, json
  end)
end

-- For bulk seeding: reserves n ids' times and n slots in coll. Returns the
-- first time and the first slot; the caller writes records and slots.
function _M.reserve(prefix, coll, n)
  return with_lock(function()
    local first_time = take_times(prefix, n)
    local last_slot = data:incr("n:" .. coll, n, 0)
    return first_time, last_slot - n + 1
  end)
end

function _M.set_slot(coll, slot, id)
  must_set("i:" .. coll .. ":" .. slot, id)
end

-- Appends id to a collection without taking the lock (ids known to be newer).
_M.append = append

function _M.count(coll)
  return data:get("n:" .. coll) or 0
end

function _M.slot(coll, slot)
  return data:get("i:" .. coll .. ":" .. slot)
end

function _M.counter(name)
  return data:get("k:" .. name) or 0
end

function _M.add_counter(name, delta)
  return data:incr("k:" .. name, delta, 0)
end

-- Unique keys (emails): true if claimed for value, else false and the owner.
function _M.claim(key, value)
  local ok, err = data:safe_add(key, value)
  if ok then return true end
  if err == "exists" then return false, data:get(key) end
  if err == "no memory" then out_of_memory(key) end
  error("shared dict add " .. key .. ": " .. tostring(err))
end

function _M.lookup(key)
  return data:get(key)
end

function _M.unset(key)
  data:delete(key)
end

_M.set = must_set

function _M.flush()
  data:flush_all()
  data:flush_expired()
end

return _M
