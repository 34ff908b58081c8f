-- wrk script for `make bench`: rotates bearer tokens over pre-built requests and writes
-- a JSON summary. Everything comes from environment variables, which every Lua state
-- (the main one that runs done() and each thread's) can read:
--   BENCH_TOKENS  file with one token per line      BENCH_METHOD  GET or POST
--   BENCH_PATH    request path                      BENCH_BODY    body ("" for none)
--   BENCH_OUT     where done() writes the JSON summary

local prepared = {}
local index = 0

function init(args)
  local method = os.getenv("BENCH_METHOD") or "GET"
  local path = os.getenv("BENCH_PATH") or "/"
  local body = os.getenv("BENCH_BODY") or ""
  if body == "" then body = nil end
  for token in io.lines(os.getenv("BENCH_TOKENS")) do
    local headers = {["Authorization"] = "Bearer " .. token}
    if body then headers["Content-Type"] = "application/json" end
    prepared[#prepared + 1] = wrk.format(method, path, headers, body)
  end
  index = math.random(#prepared) -- threads start at different tokens
end

function request()
  index = index % #prepared + 1
  return prepared[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "latency_mean_us": %.1f, "latency_max_us": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, summary.bytes, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
  out:close()
end
