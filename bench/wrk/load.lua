-- wrk script of `make bench` (driven by bench/src/load.rs): one resource operation at a time on
-- each connection, timed from its first request to its last response.
--
-- Run it with as many threads as connections (`wrk -t N -c N`): a wrk thread then owns exactly
-- one connection, so the per-thread state below is per-connection state, and each connection
-- works on its own record (line `index + 1` of BENCH_IDS) with the ETag it last received.
--
-- BENCH_MODE (an operation is what a client needs to do the thing and carry on):
--   get       GET  {BENCH_API}/{id}                          the service
--   put       PUT  {BENCH_API}/{id}, If-Match: current ETag    the service; the answer carries the new ETag
--   raw-get   GET  {BENCH_STATE}/{resource}%2F{id}             daprd's state API, same record
--   raw-put   POST {BENCH_STATE}/transaction (outbox projection + ETag-guarded upsert, the
--             operations the service's data layer sends), then GET the record for its new ETag
--             (a transaction answers none); one operation = both requests
--   raw-save  POST {BENCH_STATE} (ETag-guarded save, no event), then GET for the new ETag
-- A PUT-like mode starts with an untimed GET for the record's ETag, and starts over with one
-- after a refused write. Only complete operations are timed and counted.
--
-- BENCH_RESULT names a file that done() appends one JSON line to.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("bench_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1e6 + tonumber(clock.tv_nsec) / 1e3
end

local function env(name)
  local value = os.getenv(name)
  if value == nil or value == "" then
    error("load.lua: environment variable " .. name .. " is not set")
  end
  return value
end

-- Main state: hands each thread its index, keeps the threads for done().
local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

-- Thread state. `mode` stays nil in the main state, where wrk calls request() once to check it.
local mode, id, resource, record_path, state_path
local step, etag, version, started
lat, ops, errors, statuses = {}, 0, 0, {}

function init(args)
  mode = env("BENCH_MODE")
  resource = env("BENCH_RESOURCE")
  local line = 0
  for candidate in io.lines(env("BENCH_IDS")) do
    if line == index then
      id = candidate
    end
    line = line + 1
  end
  if id == nil then
    error("load.lua: " .. env("BENCH_IDS") .. " has no record for thread " .. index)
  end
  if mode == "get" or mode == "put" then
    record_path = env("BENCH_API") .. "/" .. id
  else
    state_path = env("BENCH_STATE")
    record_path = state_path .. "/" .. resource .. "%2F" .. id
  end
  step, version = "read", 0
end

local json_headers = { ["Content-Type"] = "application/json" }

local function record_json(name, quantity)
  return string.format('{"id":"%s","name":"%s","quantity":%d,"version":%d,"applied_adjustments":[]}',
    id, name, quantity, version)
end

local function event_json(name, quantity)
  return string.format('{"type":"updated","%s":{"id":"%s","name":"%s","quantity":%d,"version":%d}}',
    resource, id, name, quantity, version)
end

local function write_request()
  version = version + 1
  local name, quantity = "bench " .. index .. " " .. version, version % 1000
  if mode == "put" then
    local headers = { ["Content-Type"] = "application/json", ["If-Match"] = etag }
    return wrk.format("PUT", record_path, headers, string.format('{"name":"%s","quantity":%d}', name, quantity))
  end
  local key = resource .. "/" .. id
  local guard = string.format('"etag":"%s","options":{"concurrency":"first-write"}', etag)
  if mode == "raw-save" then
    local body = string.format('[{"key":"%s","value":%s,%s}]', key, record_json(name, quantity), guard)
    return wrk.format("POST", state_path, json_headers, body)
  end
  -- raw-put: the same two operations as the service's Transaction::upsert_publishing.
  local projection = string.format(
    '{"operation":"upsert","request":{"key":"%s","value":%s,' ..
    '"metadata":{"outbox.projection":"true","contentType":"application/json"}}}',
    key, event_json(name, quantity))
  local upsert = string.format(
    '{"operation":"upsert","request":{"key":"%s","value":%s,%s,"metadata":{"type":"%s.updated","subject":"%s"}}}',
    key, record_json(name, quantity), guard, resource, id)
  local body = '{"operations":[' .. projection .. "," .. upsert .. "]}"
  return wrk.format("POST", state_path .. "/transaction", json_headers, body)
end

function request()
  if mode == nil then
    return wrk.format("GET", wrk.path)
  end
  if step == "read" or step == "readback" then
    if mode == "get" or mode == "raw-get" then
      started = now_us()
    end
    return wrk.format("GET", record_path)
  end
  started = now_us()
  return write_request()
end

local function header(headers, name)
  for key, value in pairs(headers) do
    if key:lower() == name then
      return value
    end
  end
  return nil
end

local function complete()
  ops = ops + 1
  lat[ops] = now_us() - started
end

local function refuse(status)
  errors = errors + 1
  statuses[status] = (statuses[status] or 0) + 1
end

function response(status, headers, body)
  if mode == "get" or mode == "raw-get" then
    if status == 200 then complete() else refuse(status) end
    return
  end
  if step == "read" then
    -- The untimed read of a PUT-like mode: learn the ETag, then write.
    if status == 200 then
      etag, step = header(headers, "etag"), "write"
    else
      refuse(status)
    end
  elseif step == "write" then
    if mode == "put" and status == 200 then
      complete()
      etag = header(headers, "etag")
    elseif mode ~= "put" and status == 204 then
      step = "readback"
    else
      refuse(status)
      step = "read"
    end
  elseif step == "readback" then
    if status == 200 then
      complete()
      etag, step = header(headers, "etag"), "write"
    else
      refuse(status)
      step = "read"
    end
  end
end

local function percentile(sorted, fraction)
  if #sorted == 0 then
    return 0
  end
  local rank = math.ceil(fraction * #sorted)
  return sorted[math.max(rank, 1)]
end

function done(summary, latency, requests)
  local all, total_ops, total_errors, by_status = {}, 0, 0, {}
  for _, thread in ipairs(threads) do
    for _, value in ipairs(thread:get("lat")) do
      table.insert(all, value)
    end
    total_ops = total_ops + thread:get("ops")
    total_errors = total_errors + thread:get("errors")
    for status, count in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + count
    end
  end
  table.sort(all)
  local statuses_json = {}
  for status, count in pairs(by_status) do
    table.insert(statuses_json, string.format('"%d":%d', status, count))
  end
  local socket = summary.errors
  local seconds = summary.duration / 1e6
  local line = string.format(
    '{"mode":"%s","ops":%d,"seconds":%.3f,"requests":%d,"errors":%d,"statuses":{%s},' ..
    '"socket_errors":%d,"p50_us":%.1f,"p99_us":%.1f,"max_us":%.1f}\n',
    os.getenv("BENCH_MODE"), total_ops, seconds, summary.requests, total_errors, table.concat(statuses_json, ","),
    socket.connect + socket.read + socket.write + socket.timeout,
    percentile(all, 0.50), percentile(all, 0.99), percentile(all, 1.0))
  local file = assert(io.open(env("BENCH_RESULT"), "a"))
  file:write(line)
  file:close()
end
