-- Sells out an event with wrk as the crowd: a client written in C, so the sale's time says what the service can do
-- when the buyers' own client costs little (scripts/bench.sh --crowd wrk drives it).
--
-- usage: wrk -t2 -c256 -d300s -s scripts/wrk/sellout.lua URL -- EVENT TYPES STOCK_FILE OUT_PREFIX
--   TYPES       type:weight:maxPerOrder,... (weights as the load generator's: each type's capacity)
--   STOCK_FILE  "type remaining" lines that a watcher rewrites while the sale runs (scripts/lib/stock_watch.py):
--               wrk's threads share nothing, so this file is how they learn which types are gone and how few
--               tickets are left, as the load generator's buyers learn it from each other
--   OUT_PREFIX  each thread appends the body of every acknowledged order to OUT_PREFIX<thread>.jsonl, for the
--               load generator's --mode verify; the run's numbers go to OUT_PREFIXsummary.json (see done below)
-- Each request has a fresh Idempotency-Key and a quantity from 1 to 4 (never above what the stock file says is
-- left). wrk cannot tell which request a response answers, so unlike the load generator it does not ask again for
-- fewer tickets after a sold-out answer; the stock file caps the quantity instead.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } wrk_timespec;
  int clock_gettime(int clock_id, wrk_timespec *tp);
]]
local now_ts = ffi.new("wrk_timespec")
local function now()
  ffi.C.clock_gettime(1, now_ts) -- CLOCK_MONOTONIC, which the watcher's readings use too (Python's time.monotonic)
  return tonumber(now_ts.tv_sec) + tonumber(now_ts.tv_nsec) / 1e9
end

local buyers = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "buyers.lua")
local threads = buyers.threads
setup = buyers.setup

-- How often (in requests) a thread rereads the stock file: often enough to stop asking for a gone type within a
-- few milliseconds of the watcher seeing it, rarely enough to cost nothing.
local STOCK_EVERY = 256

function init(args)
  event, stock_file, prefix = args[1], args[3], args[4]
  types = {}
  for id, weight, max in string.gmatch(args[2], "([^:,]+):(%d+):(%d+)") do
    table.insert(types, { id = id, weight = tonumber(weight), max = tonumber(max), remaining = math.huge })
  end
  path = "/api/events/" .. event .. "/orders"
  sent, statuses, first, last_ack = 0, {}, 0, 0
  -- Sold-out answers up to this thread's last acknowledged order: the ones after it (wrk keeps buying until the
  -- watcher stops it) are not part of the sale, and the load generator's buyers would not have asked.
  sold_out_in_sale = 0
  orders = io.open(prefix .. id .. ".jsonl", "w")
  math.randomseed(os.time() * 1000 + id)
end

local function read_stock()
  local file = io.open(stock_file)
  if not file then return end
  local left = {}
  for type_id, remaining in file:read("*a"):gmatch("(%S+) (%d+)") do left[type_id] = tonumber(remaining) end
  file:close()
  for _, t in ipairs(types) do
    if left[t.id] then t.remaining = left[t.id] end
  end
end

local function pick()
  local total = 0
  for _, t in ipairs(types) do
    if t.remaining > 0 then total = total + t.weight end
  end
  -- Every type gone by the stock file: keep asking for the first until the watcher stops wrk.
  if total == 0 then return types[1] end
  local point = math.random() * total
  for _, t in ipairs(types) do
    if t.remaining > 0 then
      point = point - t.weight
      if point < 0 then return t end
    end
  end
  return types[#types]
end

-- wrk calls this once in the first thread before it connects anywhere (to see whether requests vary), so that
-- thread's first request time is a few milliseconds early: the sale's time is at most that much too long.
function request()
  if sent == 0 then first = now() end
  if sent % STOCK_EVERY == 0 then read_stock() end
  sent = sent + 1
  local t = pick()
  return buyers.order(path, t.id, math.random(math.max(1, math.min(4, t.max, t.remaining))), sent)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 or status == 200 then
    last_ack = now()
    sold_out_in_sale = statuses[409] or 0
    orders:write(body, "\n")
  end
end

-- Writes OUT_PREFIX"summary.json" for scripts/lib/crowd_summary.py: the span from the first request to the last
-- acknowledgement over all threads, the responses by status (sold-out answers up to each thread's last
-- acknowledged order; the ones after it apart), wrk's socket errors and its latency percentiles (every response,
-- sold-out answers included, as the load generator counts them; the quick ones after the sale lower the p50 a
-- little).
function done(summary, latency, requests)
  local first, last, totals, prefix, in_sale = math.huge, 0, {}, nil, 0
  for _, thread in ipairs(threads) do
    prefix = thread:get("prefix")
    if thread:get("sent") > 0 then first = math.min(first, thread:get("first")) end
    last = math.max(last, thread:get("last_ack"))
    for status, count in pairs(thread:get("statuses")) do totals[status] = (totals[status] or 0) + count end
    in_sale = in_sale + thread:get("sold_out_in_sale")
  end
  local after_sale = (totals[409] or 0) - in_sale
  if totals[409] then totals[409] = in_sale end
  local statuses = {}
  for status, count in pairs(totals) do table.insert(statuses, string.format('"%d":%d', status, count)) end
  local e = summary.errors
  local file = io.open(prefix .. "summary.json", "w")
  file:write(string.format(
    '{"firstRequest":%.6f,"lastAcknowledged":%.6f,"statusCounts":{%s},"soldOutAfterSale":%d,"socketErrors":%d,' ..
    '"latency":{"p50":%.3f,"p95":%.3f,"p99":%.3f,"max":%.3f}}\n',
    first == math.huge and 0 or first, last, table.concat(statuses, ","), after_sale,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  file:close()
end
