-- A progress bar on stderr, drawn only when stderr is a terminal:
--   [#########.........] 450/1000  4.0/s  ETA 2m17s
-- The ETA uses the slower of the measured rate and the rate limit's pace.
local core = require "paddle.core"
local output = require "paddle.cli.output"

local floor = math.floor
local format = string.format
local io_stderr = io.stderr
local min = math.min
local rep = string.rep

local _M = { WIDTH = 24 }

local function duration(s)
  s = floor(s + 0.5)
  if s >= 3600 then return format("%dh%02dm", floor(s / 3600), floor(s % 3600 / 60)) end
  if s >= 60 then return format("%dm%02ds", floor(s / 60), s % 60) end
  return format("%ds", s)
end

-- new(total, pace_per_second_or_nil, { force = true }) -> bar with bar.update(done), bar.finish()
function _M.new(total, pace, opts)
  local bar = {}
  local enabled = (opts and opts.force) or output.isatty(2)
  local started = core.monotonic()
  local last_draw = -1
  local drawn = false
  function bar.update(done)
    if not enabled or total == 0 then return end
    local now = core.monotonic()
    if done < total and now - last_draw < 0.2 then return end
    last_draw = now
    local elapsed = now - started
    local rate = elapsed > 0 and done / elapsed or 0
    local eta_rate = rate
    if pace and (eta_rate == 0 or pace < eta_rate) then eta_rate = pace end
    local left = total - done
    local eta = eta_rate > 0 and duration(left / eta_rate) or "?"
    local filled = floor(_M.WIDTH * done / total)
    io_stderr:write(format("\r[%s%s] %d/%d  %.1f/s  ETA %s \27[K", rep("#", filled),
      rep(".", _M.WIDTH - min(filled, _M.WIDTH)), done, total, rate, eta))
    drawn = true
  end
  function bar.finish()
    if drawn then io_stderr:write("\n") end
  end
  return bar
end

return _M
