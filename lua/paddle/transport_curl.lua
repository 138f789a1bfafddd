-- The libcurl transport: one easy handle per client, so connections are
-- kept alive across calls. Loaded only when a client needs it (OpenResty
-- with cosockets never does).
local core = require "paddle.core"
local curl = require "paddle.curl"

local pairs = pairs

local _M = { name = "curl", version = curl.version }

function _M.new(opts)
  local handle = curl.new {
    timeout = opts.attempt_timeout,
    connect_timeout = opts.connect_timeout,
    ca_file = opts.ca_file,
    ca_path = opts.ca_path,
    proxy = opts.proxy,
  }
  local t = { name = _M.name, sleep = core.sleep }
  local lines, last_headers = {}, {}

  function t.set_headers(headers)
    lines = {}
    for name, value in pairs(headers) do lines[#lines + 1] = name .. ": " .. value end
  end

  function t.send(session, method, url, body)
    local status, a, b, c = handle:perform(session, method, url, lines, body)
    if not status then return nil, a, b, c end
    last_headers = a
    return status, b, a["request-id"], a["retry-after"]
  end

  function t.headers() return last_headers end

  function t.close() handle:close() end

  return t
end

return _M
