-- The `paddle` command: argument parsing (lua-argparse), the client made from
-- the environment and global options, and the exit codes:
--   0 done, 1 Paddle or the network failed (or a sync change failed),
--   2 usage: bad arguments, no API key, a bad input file.
local argparse = require "argparse"
local output = require "paddle.cli.output"

local error = error
local getmetatable = getmetatable
local getenv = os.getenv
local io_open = io.open
local io_stderr = io.stderr
local ipairs = ipairs
local match = string.match
local pcall = pcall
local require = require
local setmetatable = setmetatable
local tonumber = tonumber
local tostring = tostring
local type = type

local _M = {
  EXIT_OK = 0,
  EXIT_API = 1,
  EXIT_USAGE = 2,
}

local UsageError = { __name = "paddle.cli.UsageError" }
UsageError.__tostring = function(e) return e.message end

-- usage(message): raises an error that ends the command with exit code 2.
function _M.usage(message)
  error(setmetatable({ message = message }, UsageError), 0)
end

local function is_usage(e)
  return type(e) == "table" and getmetatable(e) == UsageError
end

-- "240/60" -> { requests = 240, per = 60 }; "off" -> false.
function _M.parse_rate(text)
  if text == "off" then return false end
  local n, s = match(text or "", "^(%d+)/(%d+%.?%d*)$")
  n, s = tonumber(n), tonumber(s)
  if not n or n < 1 or not s or s <= 0 then
    _M.usage("--rate-limit must be N/S (requests per seconds, e.g. 240/60) or off, got " .. tostring(text))
  end
  return { requests = n, per = s }
end

local function read_key_file(path)
  local f, err = io_open(path, "rb")
  if not f then _M.usage("--api-key-file: " .. tostring(err)) end
  local key = (f:read("a") or ""):match("^%s*(.-)%s*$")
  f:close()
  if key == "" then _M.usage("--api-key-file: " .. path .. " is empty") end
  return key
end

local function non_empty(v)
  if v == "" then return nil end
  return v
end

-- The client for these arguments. The key only ever comes from the
-- environment or a file: a flag would show it in `ps` and shell history.
function _M.client_options(args)
  local key = args.api_key_file and read_key_file(args.api_key_file) or non_empty(getenv("PADDLE_API_KEY"))
  if not key then _M.usage("no API key: set PADDLE_API_KEY or give --api-key-file FILE") end
  local opts = { api_key = key, rate_limit = _M.parse_rate(args.rate_limit or "240/60") }
  opts.base_url = args.base_url or non_empty(getenv("PADDLE_BASE_URL"))
  if args.sandbox then
    opts.environment = "sandbox"
  else
    opts.environment = non_empty(getenv("PADDLE_ENVIRONMENT"))
  end
  if args.limiter then opts.limiter = args.limiter end
  if args.timeout then opts.timeout = args.timeout end
  return opts
end

function _M.make_client(args)
  local opts = _M.client_options(args)
  local ok, client = pcall(require("paddle").new, opts)
  if not ok then _M.usage(tostring(client)) end
  return client
end

-- Prints an error of Paddle or the network; returns exit code 1.
function _M.fail(err)
  io_stderr:write("paddle: ", (tostring(err):gsub("^paddle: ", "")), "\n")
  return _M.EXIT_API
end

local COMMAND_MODULES = { "paddle.cli.resources", "paddle.cli.sync" }

function _M.parser()
  local parser = argparse("paddle", "Paddle Billing from the shell: customers, bulk sync, events.")
    :epilog("The API key comes from PADDLE_API_KEY (or --api-key-file), never from a flag.\n"
      .. "Exit codes: 0 ok, 1 Paddle/network error or a failed change, 2 usage or bad input.\n"
      .. "Every command has --help.")
  parser:help_max_width(100)
  parser:command_target("command")
  parser:flag("--version", "Print the versions of lua-paddle, Lua, libcurl and OpenSSL, and exit.")
    :action(function()
      local v = require("paddle").versions()
      io.stdout:write("paddle (lua-paddle ", v["lua-paddle"], "; ", v.lua, "; libcurl ", tostring(v.libcurl),
        "; ", tostring(v.openssl), ")\n")
      os.exit(0)
    end)
  parser:option("--api-key-file", "Read the API key from this file instead of PADDLE_API_KEY.")
  parser:option("--base-url", "API base URL (default: PADDLE_BASE_URL, or Paddle's URL for the key).")
  parser:flag("--sandbox", "Use Paddle's sandbox (https://sandbox-api.paddle.com).")
  parser:option("--rate-limit", "Requests per seconds to stay under, N/S, or off.", "240/60")
  parser:option("--limiter", "Share the rate limit: the client option limiter "
    .. "(file:PATH, redis://..., ngx:DICT).")
  parser:option("--timeout", "Seconds one API call may take, retries included.")
    :convert(tonumber)
  parser:option("--format", "Output: table, json, jsonl or csv (default: table on a terminal, "
    .. "jsonl otherwise).")
    :choices { "table", "json", "jsonl", "csv" }
  for _, name in ipairs(COMMAND_MODULES) do require(name).register(parser) end
  return parser
end

-- A context handed to every command: its arguments, the client (made on
-- first use) and the output format.
local function context(args)
  local ctx = { args = args, format = args.format or output.default_format() }
  local client
  function ctx.client()
    client = client or _M.make_client(args)
    return client
  end
  function ctx.writer(opts) return output.new(ctx.format, opts) end
  ctx.usage = _M.usage
  ctx.fail = _M.fail
  return ctx
end

-- main(argv) -> exit code
function _M.main(argv)
  local parser = _M.parser()
  local ok, args = parser:pparse(argv)
  if not ok then
    io_stderr:write(parser:get_usage(), "\n\npaddle: ", tostring(args), "\n")
    return _M.EXIT_USAGE
  end
  local run = args._run
  local ran, code = pcall(run, context(args))
  if ran then return code or _M.EXIT_OK end
  if is_usage(code) then
    io_stderr:write("paddle: ", code.message, "\n")
    return _M.EXIT_USAGE
  end
  local message = tostring(code)
  if message:find("interrupted!", 1, true) then -- Ctrl-C (lua.c's SIGINT hook)
    io_stderr:write("paddle: interrupted\n")
    return 130
  end
  -- Misuse raised by the library (a malformed id, a bad parameter) is the
  -- caller's mistake too; anything else is a bug worth its traceback.
  if type(code) == "string" and not message:find("stack traceback", 1, true) then
    io_stderr:write("paddle: ", (message:gsub("^[^:]*%.lua:%d+: ", "")), "\n")
    return _M.EXIT_USAGE
  end
  io_stderr:write("paddle: internal error: ", message, "\n")
  return _M.EXIT_API
end

return _M
