-- lines(cmd) -> the lines a shell command prints, sorted (for comparing file lists).
return function(cmd)
  local out = {}
  local p = assert(io.popen(cmd))
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  table.sort(out)
  return out
end
