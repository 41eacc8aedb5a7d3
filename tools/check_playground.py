#!/usr/bin/env python3
"""Checks the steering playground (GET / of `steer serve`) in headless Chromium, as a person would.

Starts Debian's chromium headless with the DevTools protocol, opens the page with a prompt and
run=1 (the page then clicks "Generate both"), waits until both answers have finished streaming,
prints them, and saves a screenshot. Exit 1 if either answer is missing or they are equal.

    steer serve smollm2-135m --vectors DIR --port 8765 &
    python3 tools/check_playground.py --url 'http://127.0.0.1:8765/?prompt=Hi&coefficient=2&run=1' \
        --out docs/playground.png

Needs `websocket-client` (pip) and `chromium` (apt).
"""
import argparse
import base64
import json
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--port", type=int, default=9333)
    a = ap.parse_args()

    profile = tempfile.mkdtemp()
    chrome = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--remote-debugging-port={a.port}", f"--user-data-dir={profile}", "--window-size=1400,900",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                tabs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{a.port}/json"))
                page = next(t for t in tabs if t["type"] == "page")
                break
            except Exception:
                time.sleep(0.2)
        else:
            sys.exit("chromium did not start")
        ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        ids = iter(range(1, 10**6))

        def call(method, **params):
            i = next(ids)
            ws.send(json.dumps({"id": i, "method": method, "params": params}))
            while True:
                m = json.loads(ws.recv())
                if m.get("id") == i:
                    return m.get("result", {})

        def js(expr):
            return call("Runtime.evaluate", expression=expr, returnByValue=True)["result"].get("value")

        call("Emulation.setDeviceMetricsOverride", width=1400, height=900, deviceScaleFactor=1, mobile=False)
        call("Page.navigate", url=a.url)
        deadline = time.time() + a.timeout
        while time.time() < deadline:
            info = js("[document.getElementById('plain_info').textContent,"
                      " document.getElementById('steered_info').textContent]")
            if info and all(t.startswith("finish") for t in info):
                break
            time.sleep(0.5)
        plain = js("document.getElementById('plain').textContent")
        steered = js("document.getElementById('steered').textContent")
        vectors = js("document.querySelectorAll('.vector').length")
        shot = call("Page.captureScreenshot", format="png")
        with open(a.out, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print(json.dumps({"vectors": vectors, "plain": plain, "steered": steered, "info": info}, indent=1))
        if not plain or not steered or plain == steered:
            sys.exit("the page did not show two different answers")
    finally:
        chrome.terminate()


if __name__ == "__main__":
    main()
