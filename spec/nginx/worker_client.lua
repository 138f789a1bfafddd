-- One Paddle client per nginx worker, made in init_worker (no cosockets
-- there: the client picks its transport per call).
local paddle = require "paddle"

local _M = {}
local client

function _M.init(base_url, extra)
  local opts = { api_key = "pdl_sdbx_apikey_01nginxsuitekey", base_url = base_url, rate_limit = false }
  for k, v in pairs(extra or {}) do opts[k] = v end
  client = paddle.new(opts)
end

function _M.get() return client end

return _M
