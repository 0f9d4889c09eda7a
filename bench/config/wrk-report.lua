-- wrk script for bench/compare: after the run, print one JSON line that
-- bench/render-results.ts reads (requests, duration, errors, latency in µs).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"wrk":1,"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
