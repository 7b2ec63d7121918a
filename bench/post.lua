-- wrk script: POST the file named by $BENCH_BODY on every request (with
-- $BENCH_API_KEY as X-API-Key, $BENCH_AUTHORIZATION as Authorization, when
-- set), stop a thread after
-- $BENCH_MAX_REQUESTS responses, and print one machine-readable summary line
-- (wrk --latency prints no P95).
local path = assert(os.getenv("BENCH_BODY"), "BENCH_BODY is not set")
local file = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_API_KEY")
if key and key ~= "" then
  wrk.headers["X-API-Key"] = key
end
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

local cap = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "") or math.huge
local seen = 0

function response(status, headers, body)
  seen = seen + 1
  if seen >= cap then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "bytes": %d, "errors": %d, "non_2xx": %d,'
      .. ' "p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max))
end
