-- The libcurl transport: one easy handle per client, so connections are
-- kept alive across calls. Loaded only when a client needs it (OpenResty
-- with cosockets never does).
local core = require "paddle.core"
local curl = require "paddle.curl"

local pairs = pairs

local _M = { name = "curl", version = curl.version }

-- new(options) -> transport with send(session, method, url, headers, body)
function _M.new(opts)
  local handle = curl.new {
    timeout = opts.timeout,
    connect_timeout = opts.connect_timeout,
    ca_file = opts.ca_file,
    ca_path = opts.ca_path,
    proxy = opts.proxy,
  }
  local t = { name = _M.name, sleep = core.sleep }

  function t.send(session, method, url, headers, body)
    local lines = {}
    for name, value in pairs(headers) do lines[#lines + 1] = name .. ": " .. value end
    local status, a, b, c = handle:perform(session, method, url, lines, body)
    if not status then return nil, { code = a, detail = b, sent = c } end
    return { status = status, headers = a, body = b, new_connections = c.new_connections }
  end

  function t.close() handle:close() end

  return t
end

return _M
