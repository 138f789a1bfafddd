-- Run-time settings shared by all workers: the API key and the rate limit.
-- The launcher's settings are the defaults that /__mock/reset restores.
local json = require "paddle.json"

local assert = assert
local pairs = pairs
local type = type

local state = ngx.shared.paddle_mock_state
local rate = ngx.shared.paddle_mock_rate
local null = json.null

local _M = {}

local defaults = { api_key = null, rate_limit = false, workers = 1 }
local cached, cached_version

-- A new rate limit starts every client with an empty window.
local function store(cfg, new_rate_limit)
  state:set("config", assert(json.encode(cfg)))
  state:incr("config:version", 1, 0)
  if new_rate_limit then rate:flush_all() end
end

-- Called once in nginx's master (init_by_lua); workers inherit defaults.
function _M.init(cfg)
  defaults = {
    api_key = type(cfg.api_key) == "string" and cfg.api_key or null,
    rate_limit = type(cfg.rate_limit) == "table" and cfg.rate_limit or false,
    workers = cfg.workers or 1,
  }
  _M.instance = cfg.instance
  store(defaults, true)
end

function _M.get()
  local version = state:get("config:version")
  if version ~= cached_version then
    cached = json.decode(state:get("config") or "{}", { arrays = true })
    cached_version = version
  end
  return cached
end

-- Validates and applies a partial change; returns the new config or nil, errors.
function _M.update(body)
  local cfg = json.decode(assert(json.encode(_M.get())), { arrays = true })
  local errs = {}
  if body.api_key ~= nil then
    if body.api_key == null or body.api_key == false or body.api_key == "" then
      cfg.api_key = null
    elseif type(body.api_key) == "string" then
      cfg.api_key = body.api_key
    else
      errs[#errs + 1] = { field = "api_key", message = "must be a string, or null for any key" }
    end
  end
  local rl = body.rate_limit
  if rl ~= nil then
    if rl == false or rl == null then
      cfg.rate_limit = false
    elseif type(rl) == "table" then
      local requests, per = rl.requests, rl.per
      local block = rl.block
      if block == nil then block = per end
      local function whole(v, min) return type(v) == "number" and v >= min and v % 1 == 0 end
      if not whole(requests, 1) then
        errs[#errs + 1] = { field = "rate_limit.requests", message = "must be a whole number >= 1" }
      end
      if not (type(per) == "number" and per > 0) then
        errs[#errs + 1] = { field = "rate_limit.per", message = "must be a number of seconds > 0" }
      end
      if not (type(block) == "number" and block >= 0) then
        errs[#errs + 1] = { field = "rate_limit.block", message = "must be a number of seconds >= 0" }
      end
      cfg.rate_limit = { requests = requests, per = per, block = block }
    else
      errs[#errs + 1] = { field = "rate_limit", message = "must be {requests, per, block} or false" }
    end
  end
  for k in pairs(body) do
    if k ~= "api_key" and k ~= "rate_limit" then
      errs[#errs + 1] = { field = k, message = "unknown field" }
    end
  end
  if #errs > 0 then return nil, errs end
  store(cfg, rl ~= nil)
  return _M.get()
end

function _M.reset()
  store(defaults, true)
end

return _M
