-- What the wrk scripts that buy share (loaded with dofile by orders.lua and sellout.lua): an id for the run, so a
-- rerun's keys never replay the previous run's orders, and numbered threads, so keys never collide between them.
local buyers = { threads = {} }

local uuid = io.open("/proc/sys/kernel/random/uuid")
buyers.run = uuid and uuid:read("*l") or tostring(os.time())
if uuid then uuid:close() end

-- wrk's setup hook: runs in the main state once per thread.
function buyers.setup(thread)
  table.insert(buyers.threads, thread)
  thread:set("id", #buyers.threads)
  thread:set("run", buyers.run)
end

return buyers
