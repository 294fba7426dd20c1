"""The SDK's round trip of `1+1` beside the same request made raw with
httpx, interleaved: python bench.py URL KEY N prints one JSON object,
{"raw": [ns, ...], "sdk": [ns, ...]}. cmd/interp-bench runs it."""

import json
import sys
import time

import httpx

import interp


def main() -> None:
    url, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with interp.Sandbox(url, key) as sb, httpx.Client(timeout=60) as raw:
        path = url + "/v1/sessions/" + sb.id + "/execute"
        headers = {"Authorization": "Bearer " + key}

        def run_raw() -> int:
            t = time.perf_counter_ns()
            r = raw.post(path, json={"code": "1+1"}, headers=headers)
            r.raise_for_status()
            events = r.json()["events"]
            d = time.perf_counter_ns() - t
            assert any(e.get("data", {}).get("text/plain") == "2" for e in events), events
            return d

        def run_sdk() -> int:
            t = time.perf_counter_ns()
            ex = sb.run_code("1+1")
            d = time.perf_counter_ns() - t
            assert ex.text == "2", ex
            return d

        out = {"raw": [], "sdk": []}
        for i in range(20 + n):
            order = [("raw", run_raw), ("sdk", run_sdk)] if i % 2 == 0 else [("sdk", run_sdk), ("raw", run_raw)]
            got = {name: f() for name, f in order}
            if i >= 20:
                for name, d in got.items():
                    out[name].append(d)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
