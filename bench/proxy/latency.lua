-- wrk script: the same request as post.lua, and each request's own latency (from the
-- request being written to its response read, in µs) kept in a histogram per thread;
-- at the end one line: "raw p50 P50 p99 P99 max MAX n N stalls S ms MS" (S requests took
-- over 1 ms, MS milliseconds in all). wrk's own percentiles add, for
-- every request slower than twice the mean interval, the requests that would have been
-- sent meanwhile (its correction for coordinated omission), so one stall of a few
-- milliseconds weighs as much as dozens of slow requests; these are the requests as
-- they were.
-- With LATENCY_HIST=FILE it also writes the histogram to FILE, for slices.py to merge the
-- histograms of several runs: a line "duration US" (the run's, as wrk measured it), then
-- a line "US COUNT" for each latency seen.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } wrk_timespec;
int clock_gettime(int clk, wrk_timespec *tp);
]]
local ts = ffi.new("wrk_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

-- The request itself is post.lua's, read from beside this script.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "post.lua")

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local req, sent = nil, 0
hist = {}
function request()
  if not req then req = wrk.format() end
  sent = now_us()
  return req
end
function response(status, headers, body)
  local us = math.floor(now_us() - sent)
  hist[us] = (hist[us] or 0) + 1
end

function done(summary, latency, requests)
  local all, n = {}, 0
  for _, t in ipairs(threads) do
    for us, c in pairs(t:get("hist")) do
      all[us] = (all[us] or 0) + c
      n = n + c
    end
  end
  local keys = {}
  for us in pairs(all) do table.insert(keys, us) end
  table.sort(keys)
  local function pct(p)
    local rank, seen = math.ceil(n * p / 100), 0
    for _, us in ipairs(keys) do
      seen = seen + all[us]
      if seen >= rank then return us end
    end
    return 0
  end
  -- The stalls: requests over 1 ms, and the time they took. wrk's p99 follows them: once
  -- the time they took nears 1 % of the run, its correction alone fills its top 1 %.
  local stalls, stalled = 0, 0
  for _, us in ipairs(keys) do
    if us > 1000 then
      stalls = stalls + all[us]
      stalled = stalled + all[us] * us
    end
  end
  io.write(string.format("raw p50 %d p99 %d max %d n %d stalls %d ms %.1f\n", pct(50), pct(99),
    keys[#keys] or 0, n, stalls, stalled / 1000))
  local out = os.getenv("LATENCY_HIST")
  if out then
    local f = assert(io.open(out, "w"))
    f:write(string.format("duration %d\n", summary.duration))
    for _, us in ipairs(keys) do f:write(string.format("%d %d\n", us, all[us])) end
    f:close()
  end
end
