-- The locations of spec/nginx/22-redis-limit.http.conf: what one nginx of a
-- fleet does with the shared client (limiter on Redis) and a Redis deduper.
local json = require "cjson.safe"
local webhooks = require "paddle.webhooks"
local worker_client = require "worker_client"

local ngx = ngx
local tonumber = tonumber
local tostring = tostring

local _M = {}

function _M.fleet()
  local threads, calls = tonumber(ngx.var.arg_threads) or 1, tonumber(ngx.var.arg_calls) or 1
  local client = worker_client.get()
  local counts = { ok = 0, failed = 0, status429 = 0, errors = {} }
  local function one_thread()
    for _ = 1, calls do
      local data, err = client.request("GET", "/customers", { query = { per_page = 1 } })
      if data then
        counts.ok = counts.ok + 1
      else
        counts.failed = counts.failed + 1
        counts.errors[#counts.errors + 1] = tostring(err)
      end
    end
  end
  ngx.update_time()
  counts.start = ngx.now()
  local running = {}
  for i = 1, threads do running[i] = ngx.thread.spawn(one_thread) end
  for i = 1, threads do ngx.thread.wait(running[i]) end
  ngx.update_time()
  counts.finish = ngx.now()
  ngx.say(json.encode(counts))
end

local deduper
function _M.claim(url)
  deduper = deduper or webhooks.deduper { redis = url, ttl = 60 }
  local won, err = deduper:claim(ngx.var.arg_id)
  ngx.say(json.encode { won = won, err = err and err.code })
end

return _M
