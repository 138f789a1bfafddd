-- bin/paddle-mock itself: start-up line, clean shutdown on SIGTERM and
-- SIGINT (no nginx process, no temp dir left), TLS with its throwaway CA,
-- finding the Lua code, and stopping when the watched process ends.
local mock = require "support.mock"
local socket = require "socket"

local LAUNCHER = "bin/paddle-mock"

local process = require "support.process"
local read_file, alive = process.read_file, process.alive

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return code, (out:gsub("exit=%d+%s*$", ""))
end

-- Pids whose parent is pid.
local function children(pid)
  local out = {}
  local p = assert(io.popen("ls /proc"))
  for entry in p:lines() do
    if entry:match("^%d+$") then
      local stat = read_file("/proc/" .. entry .. "/stat")
      local ppid = stat and stat:match("^%d+ %b() %a (%d+)")
      if ppid == tostring(pid) then out[#out + 1] = entry end
    end
  end
  p:close()
  return out
end

local function wait_until(pred, seconds)
  local deadline = socket.gettime() + seconds
  while not pred() do
    if socket.gettime() > deadline then return false end
    socket.sleep(0.02)
  end
  return true
end

-- The launcher's nginx master, its workers and its temp prefix.
local function anatomy(m)
  local masters = children(m.pid)
  local master
  for _, pid in ipairs(masters) do
    if (read_file("/proc/" .. pid .. "/cmdline") or ""):find("nginx", 1, true) then master = pid end
  end
  assert.is_string(master, "no nginx under the launcher")
  local cmdline = read_file("/proc/" .. master .. "/cmdline"):gsub("%z", " ")
  local prefix = cmdline:match("%-p (%S+)")
  return master, children(master), prefix
end

local function dir_exists(path)
  return (sh("test -d '" .. path .. "'")) == 0
end

describe("bin/paddle-mock", function()
  it("prints its usage and refuses unknown options", function()
    local code, out = sh(LAUNCHER .. " --help")
    assert.equal(0, code)
    assert.matches("%-%-rate%-limit", out)
    code, out = sh(LAUNCHER .. " --colour blue")
    assert.equal(2, code)
    assert.matches("unknown option: %-%-colour", out)
    code = sh(LAUNCHER .. " --rate-limit fast")
    assert.equal(2, code)
  end)

  for _, signal in ipairs { "TERM", "INT" } do
    it("stops on SIG" .. signal .. ", leaving no nginx process and no temp dir", function()
      local m = mock.start { workers = 2 }
      finally(function() m:stop() end)
      assert.matches("^http://127%.0%.0%.1:%d+$", m.url)
      local master, workers, prefix = anatomy(m)
      assert.equal(2, #workers)
      assert.matches("paddle%-mock", prefix)
      assert.is_true(dir_exists(prefix))

      os.execute("kill -" .. signal .. " " .. m.pid)
      assert.is_true(wait_until(function() return not alive(m.pid) end, 10), "launcher still running")
      assert.is_false(alive(master))
      for _, w in ipairs(workers) do assert.is_false(alive(w)) end
      assert.is_false(dir_exists(prefix))
      assert.is_nil(socket.connect("127.0.0.1", m.port))
    end)
  end

  it("exits with an error when the port is taken", function()
    local m = mock.start()
    finally(function() m:stop() end)
    local code, out = sh(LAUNCHER .. " --port " .. m.port .. " --rate-limit off")
    assert.equal(1, code)
    assert.matches("failed to start", out)
    assert.equal("ok", m:admin("GET", "health").data.status)
  end)

  it("stops by itself when the watched process ends", function()
    local base = os.tmpname()
    finally(function()
      os.remove(base)
      os.remove(base .. ".out")
      os.remove(base .. ".pid")
    end)
    os.execute("sleep 1 & echo $! > " .. base .. ".pid")
    local watched = read_file(base .. ".pid"):match("%d+")
    local port = mock.free_port()
    os.execute("sh -c 'echo $$ > " .. base .. ".pid; exec " .. LAUNCHER .. " --port " .. port
      .. " --watch-pid " .. watched .. " > " .. base .. ".out 2>&1' </dev/null >/dev/null 2>&1 &")
    assert.is_true(wait_until(function()
      return (read_file(base .. ".out") or ""):find("listening on", 1, true) ~= nil
    end, 10))
    local launcher = read_file(base .. ".pid"):match("%d+")
    assert.is_true(alive(launcher))
    assert.is_true(wait_until(function() return not alive(launcher) end, 10), "launcher outlived its watch")
  end)

  it("finds the Lua code in a LuaRocks tree, or from --lua-dir", function()
    local tree = os.tmpname()
    os.remove(tree)
    finally(function() os.execute("rm -rf '" .. tree .. "'") end)
    local root = assert(io.popen("pwd")):read("*l")
    local share = tree .. "/share/lua/5.1"
    assert.equal(0, (sh(("mkdir -p %s/bin %s/elsewhere/paddle %s/paddle && cp %s %s/bin/ && "
      .. "ln -s %s/mock/paddle_mock %s/paddle_mock && ln -s %s/lua/paddle/json.lua %s/paddle/json.lua && "
      .. "ln -s %s/mock/paddle_mock %s/elsewhere/paddle_mock && "
      .. "ln -s %s/lua/paddle/json.lua %s/elsewhere/paddle/json.lua")
      :format(tree, tree, share, LAUNCHER, tree, root, share, root, share, root, tree, root, tree))))

    local m = mock.start { launcher = tree .. "/bin/paddle-mock" }
    assert.equal("ok", m:admin("GET", "health").data.status)
    m:stop()

    -- The client rock's paddle.json is a dependency: missing, it says so.
    os.execute("rm " .. share .. "/paddle/json.lua")
    local code, out = sh("cd / && " .. tree .. "/bin/paddle-mock --port " .. mock.free_port())
    assert.equal(2, code)
    assert.matches("cannot find paddle/json%.lua", out)

    os.execute("rm " .. share .. "/paddle_mock")
    code, out = sh("cd / && " .. tree .. "/bin/paddle-mock --port " .. mock.free_port())
    assert.equal(2, code)
    assert.matches("cannot find paddle_mock/init%.lua", out)

    m = mock.start { launcher = tree .. "/bin/paddle-mock", lua_dir = tree .. "/elsewhere" }
    assert.equal("ok", m:admin("GET", "health").data.status)
    m:stop()
  end)
end)

describe("bin/paddle-mock --tls", function()
  local m

  setup(function() m = mock.start { tls = true, key = "tls-key" } end)
  teardown(function() if m then m:stop() end end)

  it("serves HTTPS that verifies against the printed CA, and only against it", function()
    assert.matches("^https://127%.0%.0%.1:%d+$", m.url)
    assert.matches("/ca%.pem$", m.ca_file)
    assert.matches("BEGIN CERTIFICATE", read_file(m.ca_file))
    local url = m.url .. "/customers"
    local code, out = sh("curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer tls-key' --cacert "
      .. m.ca_file .. " " .. url)
    assert.equal(0, code)
    assert.equal("200", out)
    code, out = sh("curl -s -o /dev/null -w '%{http_code}' --cacert " .. m.ca_file
      .. " https://localhost:" .. m.port .. "/__mock/health")
    assert.equal(0, code)
    assert.equal("200", out)
    code = sh("curl -s -o /dev/null " .. url)
    assert.equal(60, code) -- curl: peer certificate cannot be authenticated with known CA certificates
    assert.equal(201, m:request("POST", "/customers", { body = { email = "tls@example.com" } }).status)
  end)

  it("removes the CA with its temp dir on stop", function()
    local ca = m.ca_file
    m:stop()
    m = nil
    assert.is_nil(read_file(ca))
  end)
end)

-- Processes whose command line mentions text (nginx's holds its -p prefix).
local function processes_mentioning(text)
  local out = {}
  local p = assert(io.popen("ls /proc"))
  for entry in p:lines() do
    if entry:match("^%d+$") then
      local cmdline = (read_file("/proc/" .. entry .. "/cmdline") or ""):gsub("%z", " ")
      if cmdline:find(text, 1, true) and alive(entry) then out[#out + 1] = entry end
    end
  end
  p:close()
  return out
end

describe("spec/support/mock.lua when the emulator does not start in time", function()
  local base
  before_each(function() base = os.tmpname() end)
  after_each(function()
    for _, suffix in ipairs { "", ".sh", ".tmpdir", ".child" } do os.remove(base .. suffix) end
  end)

  local function wrapper(body)
    local f = assert(io.open(base .. ".sh", "w"))
    f:write("#!/bin/sh\necho \"$TMPDIR\" > '" .. base .. ".tmpdir'\n", body, "\n")
    f:close()
    os.execute("chmod +x '" .. base .. ".sh'")
    return base .. ".sh"
  end

  it("leaves no nginx and no temp dir", function()
    -- The real launcher, with its "listening" line withheld: nginx runs, the
    -- helper never hears of it.
    local root = assert(io.popen("pwd")):read("*l")
    local fake = wrapper("'" .. root .. "/" .. LAUNCHER
      .. "' \"$@\" 2>&1 | sed -u 's/listening on/withheld:/'")
    local ok, err = pcall(mock.start, { launcher = fake, port = mock.free_port(), start_timeout = 8 })
    assert.is_false(ok)
    assert.matches("did not start", err)
    assert.matches("withheld:", err) -- nginx was up when the helper gave up
    local tmpdir = read_file(base .. ".tmpdir"):match("[^\n]+")
    assert.matches("paddle%-mock%-spec", tmpdir)
    assert.is_false(dir_exists(tmpdir))
    assert.same({}, processes_mentioning(tmpdir))
  end)

  it("kills a launcher that ignores SIGTERM, with its children, and removes the temp dir", function()
    local fake = wrapper("trap '' TERM\nmkdir \"$TMPDIR/leftover\"\n"
      .. "sh -c 'exec sleep 300' & echo $! > '" .. base .. ".child'\nwait\nwait")
    local ok, err = pcall(mock.start, { launcher = fake, port = mock.free_port(), start_timeout = 1 })
    assert.is_false(ok)
    assert.matches("did not start", err)
    local child = read_file(base .. ".child"):match("%d+")
    assert.is_false(alive(child))
    assert.is_false(dir_exists(read_file(base .. ".tmpdir"):match("[^\n]+")))
  end)
end)

describe("bin/paddle-mock killed with SIGKILL", function()
  it("takes nginx with it", function()
    local m = mock.start()
    finally(function() m:stop() end)
    local master, workers = anatomy(m)
    os.execute("kill -KILL " .. m.pid)
    assert.is_true(wait_until(function() return not alive(master) end, 15), "nginx outlived its launcher")
    for _, w in ipairs(workers) do
      assert.is_true(wait_until(function() return not alive(w) end, 15), "a worker outlived nginx")
    end
  end)
end)
