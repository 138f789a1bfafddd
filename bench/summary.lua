-- bench/summary.lua: the figure of N paired runs, as a human line and the
-- machine line bench/run collects.
--   lua5.4 bench/summary.lua GROUP NAME UNIT FLOOR GOAL V1 V2 ...
-- FLOOR is the floor's own value (or -), GOAL "<=1.25", ">=1.0" or "-".
-- Prints the median, the spread (min..max) and in how many runs the goal
-- was met:
--   RESULT<TAB>group<TAB>name<TAB>median<TAB>unit<TAB>floor<TAB>goal<TAB>min..max<TAB>met k/N
local group, name, unit, floor, goal = ...
local values = {}
for i = 6, select("#", ...) do
  local v = tonumber((select(i, ...)))
  if v then values[#values + 1] = v end
end
if #values == 0 then
  io.stderr:write("summary: no values for ", tostring(name), "\n")
  os.exit(1)
end
table.sort(values)
local n = #values
local median = n % 2 == 1 and values[(n + 1) // 2] or (values[n // 2] + values[n // 2 + 1]) / 2

local function fmt(v)
  if v == math.floor(v) and math.abs(v) < 1e15 then return string.format("%d", v) end
  if math.abs(v) >= 100 then return string.format("%.0f", v) end
  if math.abs(v) >= 10 then return string.format("%.1f", v) end
  return string.format("%.2f", v)
end

local met = "-"
local op, bound = (goal or "-"):match("^([<>]=)(%-?[%d.]+)$")
if op then
  bound = tonumber(bound)
  local k = 0
  for _, v in ipairs(values) do
    if (op == "<=" and v <= bound) or (op == ">=" and v >= bound) then k = k + 1 end
  end
  -- "met" when at least 3 of 5 runs (a majority in general) reach the goal
  met = string.format("%s %d/%d", k * 2 > n and "met" or "NOT met", k, n)
end
local spread = fmt(values[1]) .. ".." .. fmt(values[n])
print(string.format("  %-46s %10s %-8s spread %s  goal %s  %s", group .. ": " .. name, fmt(median), unit,
  spread, goal, met))
print(table.concat({ "RESULT", group, name, fmt(median), unit, floor, goal, spread, met }, "\t"))
