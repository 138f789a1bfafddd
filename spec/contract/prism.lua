-- Starts Prism (spec/contract/node_modules, installed by `make deps` with
-- npm ci) on a free loopback port with Paddle's OpenAPI document, and stops
-- it with everything it started (it runs in a process group of its own).
--   local p = prism.start("proxy", upstream_url)   -- validating proxy
--   local p = prism.start("mock")                  -- mock server
--   p.url, p:stop()
local process = require "support.process"

local io_open = io.open
local setmetatable = setmetatable

local quote = process.shell_quote

local _M = {
  DOCUMENT = "../shared/paddle/openapi/openapi.yaml", -- relative to the repo root
  BIN = "spec/contract/node_modules/.bin/prism",
  START_SECONDS = 240, -- Prism parses a 36,000-line document: slow on a loaded machine
}

local Prism = {}
Prism.__index = Prism

function _M.available()
  return io_open(_M.BIN, "rb") ~= nil and io_open(_M.DOCUMENT, "rb") ~= nil
end

-- Returns the Prism object, or nil and what Prism printed.
function _M.start(mode, upstream)
  local port = process.free_port()
  local args = { quote(_M.BIN), mode, quote(_M.DOCUMENT) }
  if upstream then args[#args + 1] = quote(upstream) end
  args[#args + 1] = "--host 127.0.0.1 --port " .. port
  local files = process.spawn(table.concat(args, " "), { group = true })
  local self = setmetatable({ files = files, url = "http://127.0.0.1:" .. port }, Prism)
  local log, ready
  self.pgid, log, ready = process.wait_ready(files, function(out)
    return out:find("Prism is listening on", 1, true) ~= nil
  end, _M.START_SECONDS, 0.2, true)
  if ready then return self end
  self:stop()
  return nil, "prism " .. mode .. " did not start:\n" .. log:sub(-2000)
end

function Prism:stop()
  if not self.files then return end
  local pgid = self.pgid or process.text(self.files.pid):match("^(%d+)")
  if pgid then process.terminate(pgid, 10, true) end
  process.remove_files(self.files)
  self.files = nil
end

return _M
