-- bench/page.lua: a list page of n customers as Paddle sends it (the
-- customer entity of GET /customers, ids and emails unique, a third with
-- custom_data, JSON nulls where Paddle has them), for the benches.
--   local page_json = require("page")(200)
local format, concat = string.format, table.concat

return function(n)
  local parts = {}
  for i = 1, n do
    parts[i] = format('{"id":"ctm_01hv6y1jedq4p1n0%012d","status":"active","custom_data":%s,'
      .. '"name":"Jo Brown-Anderson %d","email":"jo.brown%d@example.com","marketing_consent":false,'
      .. '"locale":"en","created_at":"2024-04-11T15:57:24.813Z",'
      .. '"updated_at":"2024-04-11T15:59:56.658719Z","import_meta":null}',
      i, i % 3 == 0 and format('{"crm_id":"A-%d","tier":3,"seats":%d}', i, i % 50) or "null", i, i)
  end
  return '{"data":[' .. concat(parts, ",") .. '],"meta":{"request_id":'
    .. '"913dee78-d496-4d13-a93e-09d834c208dd","pagination":{"per_page":' .. n .. ','
    .. '"next":"https://api.paddle.com/customers?after=ctm_01hv6y1jedq4p1n0' .. format("%012d", n)
    .. '","has_more":true,"estimated_total":20000}}}'
end
