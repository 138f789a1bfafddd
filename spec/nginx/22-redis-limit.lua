-- Two nginx instances, one Paddle limit, shared through Redis: this nginx
-- (instance A) and a second one the tests start (instance B, same config on
-- other ports) pace together through a redis-server the tests start too, and
-- their webhook dedupers agree on who processes an event.
local http = require "paddle.ngx.http"
local json = require "cjson.safe"
local admin = require "mock_admin"

local ngx = ngx
local io_open = io.open
local os_execute = os.execute
local tostring = tostring

local function read(path)
  local f = assert(io_open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function write(path, s)
  local f = assert(io_open(path, "wb"))
  f:write(s)
  f:close()
end

local function replace(s, old, new) -- plain text, every occurrence
  local out, i = {}, 1
  while true do
    local a, b = s:find(old, i, true)
    if not a then break end
    out[#out + 1] = s:sub(i, a - 1) .. new
    i = b + 1
  end
  out[#out + 1] = s:sub(i)
  return table.concat(out)
end

local function sh(t, cmd)
  local ok = os_execute(cmd)
  if ok ~= true and ok ~= 0 then t.fail("command failed: " .. cmd) end
end

local function listening(port)
  local s = ngx.socket.tcp()
  s:settimeout(200)
  local ok = s:connect("127.0.0.1", port)
  s:close()
  return ok
end

local function wait_listening(t, port, what)
  for _ = 1, 200 do
    if listening(port) then return end
    ngx.sleep(0.05)
  end
  t.fail(what .. " did not start on port " .. port)
end

local function redis_cmd(t)
  local dir = t.env.tmp
  return "redis-server --port " .. t.env.ports[5] .. " --bind 127.0.0.1 --save '' --appendonly no"
    .. " --requirepass pw@22 --daemonize yes --dir " .. dir .. " --pidfile " .. dir .. "/redis.pid"
    .. " --logfile " .. dir .. "/redis.log"
end

-- The pid file goes with the server, so that no later kill can hit a reused pid.
local function kill_redis(t)
  local pidfile = t.env.tmp .. "/redis.pid"
  os_execute("kill -KILL $(cat " .. pidfile .. " 2>/dev/null) 2>/dev/null")
  for _ = 1, 100 do
    if not listening(t.env.ports[5]) then break end
    ngx.sleep(0.05)
  end
  os.remove(pidfile)
end

-- Instance B: this nginx's own config, moved to its own prefix and ports.
local function start_b(t)
  local a, b = t.env.tmp, t.env.tmp .. "/b"
  sh(t, "mkdir -p " .. b .. "/conf " .. b .. "/logs " .. b .. "/lua " .. b .. "/tmp")
  local conf = read(a .. "/conf/nginx.conf")
  conf = replace(conf, "daemon off;", "daemon on;")
  conf = replace(conf, a .. "/", b .. "/")
  conf = replace(conf, "listen 127.0.0.1:" .. t.env.port .. ";", "listen 127.0.0.1:" .. t.env.ports[3] .. ";")
  write(b .. "/conf/nginx.conf", conf)
  local inc = read(a .. "/conf/test.http.conf")
  write(b .. "/conf/test.http.conf", replace(inc, ":" .. t.env.ports[1] .. ";", ":" .. t.env.ports[2] .. ";"))
  sh(t, "nginx -p " .. b .. " -c " .. b .. "/conf/nginx.conf -e " .. b .. "/logs/error.log")
  wait_listening(t, t.env.ports[2], "instance B")
end

local function stop_all(t)
  local b = t.env.tmp .. "/b"
  os_execute("kill -QUIT $(cat " .. b .. "/logs/nginx.pid 2>/dev/null) 2>/dev/null")
  kill_redis(t)
  for _ = 1, 100 do
    if not listening(t.env.ports[2]) then break end
    ngx.sleep(0.05)
  end
end

-- Redis and instance B for the length of fn; stopped whatever happens (and by
-- a watcher if this nginx goes away first).
local function with_fleet(t, fn)
  local a_pid = read(t.env.tmp .. "/logs/nginx.pid"):match("%d+")
  os_execute("sh -c 'while kill -0 " .. a_pid .. " 2>/dev/null; do sleep 1; done; "
    .. "kill -KILL $(cat " .. t.env.tmp .. "/redis.pid) $(cat " .. t.env.tmp .. "/b/logs/nginx.pid)' "
    .. ">/dev/null 2>&1 </dev/null &")
  local ok, err = pcall(function()
    sh(t, redis_cmd(t))
    wait_listening(t, t.env.ports[5], "redis-server")
    start_b(t)
    fn()
  end)
  stop_all(t)
  if not ok then error(err, 0) end
end

-- GET path on both instances at once -> the two decoded answers.
local function on_both(t, path)
  local threads = {}
  for i, port in ipairs { t.env.ports[1], t.env.ports[2] } do
    threads[i] = ngx.thread.spawn(function()
      return http.request { url = t.url(path, port), timeout = 120 }
    end)
  end
  local answers = {}
  for i = 1, 2 do
    local _, res, err = ngx.thread.wait(threads[i])
    if not res then t.fail("instance " .. i .. ": " .. tostring(err)) end
    t.equal(res.status, 200, "instance " .. i .. " answered " .. res.status .. ": " .. res.body)
    answers[i] = json.decode(res.body)
  end
  return answers
end

local function fleet_run(t, threads, calls)
  local answers = on_both(t, "/fleet?threads=" .. threads .. "&calls=" .. calls)
  local total = { ok = 0, failed = 0, errors = {} }
  local first, last
  for _, a in ipairs(answers) do
    total.ok, total.failed = total.ok + a.ok, total.failed + a.failed
    for _, e in ipairs(a.errors) do total.errors[#total.errors + 1] = e end
    first = (not first or a.start < first) and a.start or first
    last = (not last or a.finish > last) and a.finish or last
  end
  total.took = last - first
  return total
end

return {
  {
    name = "2 instances x 3 threads x 20 calls on a 20/1 s limit: no 429, within 120/20/0.85 s",
    fn = function(t)
      admin(t, "POST", "/__mock/reset")
      admin(t, "POST", "/__mock/config", { rate_limit = { requests = 20, per = 1, block = 60 } })
      with_fleet(t, function()
        local total = fleet_run(t, 3, 20)
        t.equal(total.errors, {})
        t.equal(total.ok, 120)
        local log = admin(t, "GET", "/__mock/requests").data
        t.equal(#log, 120)
        for _, r in ipairs(log) do t.truthy(r.status ~= 429, "the emulator answered 429") end
        t.truthy(total.took < 120 / 20 / 0.85, "took " .. total.took)
        t.diag(string.format("120 calls in %.2f s", total.took))
      end)
    end,
  },
  {
    name = "Redis killed mid-run loses no call",
    fn = function(t)
      admin(t, "POST", "/__mock/reset")
      admin(t, "POST", "/__mock/config", { rate_limit = { requests = 20, per = 1, block = 2 } })
      with_fleet(t, function()
        local killer = ngx.thread.spawn(function()
          ngx.sleep(1.5)
          kill_redis(t)
        end)
        local total = fleet_run(t, 3, 20)
        ngx.thread.wait(killer)
        t.equal(total.errors, {})
        t.equal(total.ok, 120)
        local warned = read(t.env.tmp .. "/logs/error.log"):find("paddle.limiter: store redis://", 1, true)
        t.truthy(warned, "instance A warned that the store failed")
      end)
    end,
  },
  {
    name = "deduper on Redis: exactly one of two instances claims each event",
    fn = function(t)
      with_fleet(t, function()
        for i = 1, 20 do
          local answers = on_both(t, "/claim?id=evt_nginx_" .. i)
          t.equal(answers[1].err, nil)
          t.equal(answers[2].err, nil)
          t.truthy(answers[1].won ~= answers[2].won, "event " .. i .. ": " .. tostring(answers[1].won)
            .. " and " .. tostring(answers[2].won))
        end
        -- Authenticated, in database 2, under the URL's key prefix.
        local p = io.popen("redis-cli -p " .. t.env.ports[5] .. " --no-auth-warning -a pw@22 -n 2"
          .. " EXISTS nginx:evt_nginx_1")
        local exists = p:read("*l")
        p:close()
        t.equal(exists, "1")
      end)
    end,
  },
}
