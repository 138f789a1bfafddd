-- The emulator's admin API (/__mock/...) from inside a test of the nginx
-- suite: admin(t, method, path, body) -> decoded answer; fails the test when
-- the emulator cannot be reached or refuses.
local http = require "paddle.ngx.http"
local json = require "cjson.safe"

local tostring = tostring

return function(t, method, path, body)
  local res, err = http.request { url = t.env.mock_url .. path, method = method,
    body = body and json.encode(body) or nil, headers = { ["Content-Type"] = "application/json" } }
  if not res then t.fail("emulator admin " .. path .. ": " .. tostring(err)) end
  t.truthy(res.status < 300, "emulator admin " .. path .. " answered " .. res.status)
  return json.decode(res.body)
end
