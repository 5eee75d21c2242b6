-- wrk script for 'make bench': GET /CODE for codes drawn from a codes file
-- (CODE<TAB>URL per line, as 'shortlinks seed --codes-file' writes it),
-- Zipf-distributed (P(rank k) ~ (v + k)^-s, the first code most popular)
-- or uniform when s is 0. It prints one JSON line of results at the end.
--
--   wrk -t1 -c32 -d10s -s bench/zipf.lua http://127.0.0.1:8080 -- codes.tsv 1.1 1
--
-- Requests are drawn in init into a ring of 2^17, so picking one costs
-- nothing while wrk runs.

local ring = {}
local ringSize = 131072
local pos = 0

function init(args)
  local file, s, v = args[1], tonumber(args[2] or "1.1"), tonumber(args[3] or "1")
  local codes = {}
  for line in io.lines(file) do
    local c = line:match("^([^\t#]+)\t") or line:match("^([^\t#%s]+)%s*$")
    if c then codes[#codes + 1] = c end
  end
  local n = #codes
  assert(n > 0, "no codes in " .. file)
  math.randomseed(os.time() + (wrk.thread and tonumber(tostring(wrk.thread):match("0x(%x+)") or "0", 16) or 0))
  local cdf
  if s > 0 then
    cdf = {}
    local sum = 0
    for k = 1, n do
      sum = sum + (v + k - 1) ^ (-s)
      cdf[k] = sum
    end
    for k = 1, n do cdf[k] = cdf[k] / sum end
  end
  for i = 1, ringSize do
    local k
    if cdf then
      local u, lo, hi = math.random(), 1, n
      while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if cdf[mid] < u then lo = mid + 1 else hi = mid end
      end
      k = lo
    else
      k = math.random(n)
    end
    ring[i] = wrk.format("GET", "/" .. codes[k])
  end
end

function request()
  pos = pos % ringSize + 1
  return ring[pos]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
