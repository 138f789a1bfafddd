-- Runs a Lua script in a new interpreter (the one running the specs) with
-- these environment variables, for behaviour that depends on the process
-- environment, which Lua cannot change in-process.
local concat = table.concat

local _M = {}

local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"
local CPATH = rawget(_G, "jit") and "build/luajit/?.so" or "build/5.4/?.so"

-- Variables always removed, so the parent's environment cannot leak in.
local CLEARED = { "PADDLE_API_KEY", "PADDLE_ENVIRONMENT", "PADDLE_BASE_URL", "CURL_CA_BUNDLE",
  "SSL_CERT_FILE", "SSL_CERT_DIR" }

local shell_quote = require("support.process").shell_quote

-- run(env, script) -> output (stdout and stderr), exit status
function _M.run(env, script)
  local file = os.tmpname()
  local f = assert(io.open(file, "w"))
  f:write(script)
  f:close()
  local words = { "env" }
  for _, name in ipairs(CLEARED) do words[#words + 1] = "-u " .. name end
  for k, v in pairs(env) do words[#words + 1] = k .. "=" .. shell_quote(v) end
  words[#words + 1] = LUA
  words[#words + 1] = "-e"
  words[#words + 1] = shell_quote('package.path="lua/?.lua;lua/?/init.lua;"..package.path;'
    .. 'package.cpath="' .. CPATH .. ';"..package.cpath')
  words[#words + 1] = file
  words[#words + 1] = "2>&1; echo \"exit=$?\""
  local p = assert(io.popen(concat(words, " ")))
  local out = p:read("*a")
  p:close()
  os.remove(file)
  local status = tonumber(out:match("exit=(%d+)%s*$"))
  return (out:gsub("exit=%d+%s*$", "")), status
end

return _M
