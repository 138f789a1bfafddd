-- The libcurl transport: one easy handle per client, so connections are
-- kept alive across calls. Loaded only when a client needs it (OpenResty
-- with cosockets never does). Implements the transport interface the
-- client's request loop calls:
--   t.set_headers(headers)  name -> value, without Authorization
--   t.send(session, method, url, body_or_nil, timeout_seconds, compressed)
--     -> status, body, request_id_or_nil, retry_after_or_nil
--     -> nil, code, detail, sent
--   t.headers()             the last response's headers (lowercased names)
--   t.sleep(seconds)        true when Ctrl-C cut it short
--   t.close()
local core = require "paddle.core"
local curl = require "paddle.curl"

local io_stderr = io.stderr
local pairs = pairs
local sort = table.sort

local _M = {
  name = "curl",
  version = curl.version,
  -- false when another library initialised libcurl first: libcurl's copies
  -- of the Authorization line are then not wiped (docs/api-key.md).
  key_wipe = curl.key_wipe,
}

local NO_WIPE = "libcurl was initialised by another library before paddle.curl: libcurl's copies "
  .. "of the API key are freed without being wiped (load paddle first; see docs/api-key.md)"
local warned = false

function _M.new(opts)
  if not curl.key_wipe and not warned then -- once per process: it is the process's state
    warned = true
    local warn = opts.on_warning or function(msg) io_stderr:write("lua-paddle: warning: ", msg, "\n") end
    warn(NO_WIPE)
  end
  local handle = curl.new {
    timeout = opts.attempt_timeout or opts.timeout, -- a default: each send passes its own
    connect_timeout = opts.connect_timeout,
    ca_file = opts.ca_file,
    ca_path = opts.ca_path,
    proxy = opts.proxy,
  }
  -- send(session, method, url, body, timeout, compressed): the handle's
  -- perform, bound to it in C (no Lua frame per request).
  local t = { name = _M.name, sleep = core.sleep, send = handle:sender() }

  function t.set_headers(headers)
    local lines = {}
    for name, value in pairs(headers) do lines[#lines + 1] = name .. ": " .. value end
    sort(lines) -- the same headers always go out in the same order
    handle:set_headers(lines)
  end

  function t.headers() return handle:headers() end

  function t.close() handle:close() end

  return t
end

return _M
