-- TAP output for the contract suite: spec/run counts "ok" / "not ok" lines.
local io_write = io.write
local tostring = tostring

local _M = { count = 0, failed = 0 }

-- A test line; diag (a string) is printed as comment lines under a failure.
function _M.check(passed, description, diag)
  _M.count = _M.count + 1
  io_write(passed and "ok " or "not ok ", _M.count, " - ", description, "\n")
  if not passed then
    _M.failed = _M.failed + 1
    for line in (tostring(diag or "") .. "\n"):gmatch("([^\n]*)\n") do
      if line ~= "" then io_write("# ", line, "\n") end
    end
  end
  io.stdout:flush()
  return passed
end

function _M.note(text)
  io_write("# ", text, "\n")
end

function _M.finish()
  io_write("1..", _M.count, "\n")
  return _M.failed == 0
end

return _M
