-- The contract suite (TAP): the emulator behind Prism's validating proxy, then
-- lua-paddle's client against Prism's mock, both with Paddle's OpenAPI
-- document. Run by spec/contract/run from the repository root.
local mock = require "support.mock"
local prism = require "contract.prism"
local tap = require "contract.tap"

local started = {}
local function stop_all()
  for i = #started, 1, -1 do pcall(started[i].stop, started[i]) end
  started = {}
end

local function main()
  if not tap.check(prism.available(), "Prism and Paddle's OpenAPI document are installed",
    "missing " .. prism.BIN .. " (make deps runs npm ci in spec/contract) or " .. prism.DOCUMENT) then
    return
  end
  local m = mock.start { key = "pdl_sdbx_apikey_contract", memory = "64m" }
  started[#started + 1] = m
  local proxy, err = prism.start("proxy", m.url)
  if not tap.check(proxy ~= nil, "prism proxy starts in front of the emulator", err) then return end
  started[#started + 1] = proxy
  require("contract.emulator").run { mock = m, prism = proxy }
  stop_all()

  local server
  server, err = prism.start("mock")
  if not tap.check(server ~= nil, "prism mock starts", err) then return end
  started[#started + 1] = server
  require("contract.client").run(server.url)
end

local ok, err = xpcall(main, debug.traceback)
stop_all()
if not ok then tap.check(false, "the contract suite runs to its end", err) end
os.exit(tap.finish() and 0 or 1)
