-- Starts spec/support/badserver_main.lua (the fault matrix's hand-made
-- server) as a separate lua5.4 process and reads its request log.
--
--   local badserver = require "support.badserver"
--   local bs = badserver.start()   -- bs.origin, bs.elsewhere
--   bs:url("dribble")              -- a base_url whose answers dribble
--   bs:log()                       -- every request so far, in order
--   bs:stop()                      -- always (teardown); it also exits by
--                                  -- itself when this process is gone
local cjson = require "cjson"
local http = require "socket.http"

local process = require "support.process"

local assert = assert
local error = error
local setmetatable = setmetatable
local tostring = tostring

local _M = {}

local Server = {}
Server.__index = Server

local MAIN = debug.getinfo(1, "S").source:sub(2):gsub("badserver%.lua$", "badserver_main.lua")
local READY = "badserver listening on (%d+) elsewhere (%d+)"

function _M.start()
  local files = process.spawn("lua5.4 " .. process.shell_quote(MAIN) .. " " .. process.lua_pid())
  local pid, output, ready = process.wait_ready(files, function(out)
    return out:find(READY) ~= nil
  end, 10, 0.01)
  if not ready then
    if pid then process.kill(pid, "KILL") end
    process.remove_files(files)
    error("badserver did not start: " .. output, 2)
  end
  local port, elsewhere = output:match(READY)
  return setmetatable({
    pid = pid, files = files,
    origin = "http://127.0.0.1:" .. port,
    elsewhere = "http://127.0.0.1:" .. elsewhere,
  }, Server)
end

function Server:url(mode)
  return self.origin .. "/" .. mode
end

function Server:log()
  local body, status = http.request(self.origin .. "/__log")
  assert(status == 200, "badserver /__log answered " .. tostring(status))
  return cjson.decode(body).data
end

-- Stops the process and waits for it; returns what it printed (errors).
function Server:stop()
  if not self.pid then return "" end
  process.terminate(self.pid, 5)
  self.pid = nil
  local output = process.text(self.files.out)
  process.remove_files(self.files)
  return output
end

return _M
