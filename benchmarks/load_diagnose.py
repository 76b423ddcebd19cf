"""Load benchmark of the built bento: N concurrent clients POST `diagnose` on 127.0.0.1;
prints p50/p95 latency, throughput, 5xx/error count and the batches adaptive batching formed
(``serve.batching``: largest and mean batch of the U²-Net call at each load) as a markdown table.

    .venv/bin/python benchmarks/load_diagnose.py [--clients 1 8 32] [--requests 4] [--url URL]
        [--screenshot docs/img/web_page.png]

Without ``--url`` it serves the bento named in ``metrics/package.json`` (made by the `package`
stage) with ``bentoml serve`` on a free port and stops it afterwards. Each client sends
``--requests`` requests back to back, with test images from the manifest (or a rendered one).
``--screenshot`` also uploads an image through the web page in headless Chromium and saves it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _images(n: int) -> list[bytes]:
    man = ROOT / "data" / "manifest.csv"
    if man.is_file():
        import pandas as pd

        df = pd.read_csv(man)
        paths = [ROOT / p for p in df[df.split == "test"].path.head(n)]
        if paths:
            return [p.read_bytes() for p in paths]
    import io

    import numpy as np
    from PIL import Image

    from scalpvision.data.synthetic import render_scalp

    buf = io.BytesIO()
    Image.fromarray(render_scalp({f"value_{i}": 1 for i in range(1, 7)},
                                 np.random.default_rng(0)).image).save(buf, format="JPEG")
    return [buf.getvalue()]


def _serve() -> tuple[str, subprocess.Popen]:
    info = json.loads((ROOT / "metrics" / "package.json").read_text())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "BENTOML_HOME": info["bentoml_home"], "BENTOML_DO_NOT_TRACK": "true"}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("bentoml")), "serve",
                             info["bento"], "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    t0 = time.time()
    while time.time() - t0 < 180:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                print(f"served {info['bento']} at {url} (ready in {time.time() - t0:.1f} s)")
                return url, proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("bentoml serve did not become ready in 180 s")


def _batches(url: str) -> dict:
    r = httpx.post(f"{url}/batches", json={}, timeout=60)
    return r.json() if r.status_code == 200 else {}


def run_load(url: str, clients: int, requests: int, images: list[bytes]) -> dict:
    lat, errors, lock = [], [], threading.Lock()
    server_errors = [0]
    before = _batches(url)

    def client(i: int) -> None:
        with httpx.Client(timeout=600) as c:
            for k in range(requests):
                data = images[(i * requests + k) % len(images)]
                t = time.perf_counter()
                try:
                    r = c.post(f"{url}/diagnose", files={"image": ("scalp.jpg", data,
                                                                   "image/jpeg")})
                    ok = r.status_code == 200
                    err = None if ok else f"HTTP {r.status_code}: {r.text[:200]}"
                    if r.status_code >= 500:
                        with lock:
                            server_errors[0] += 1
                except httpx.HTTPError as exc:
                    err = f"{type(exc).__name__}: {exc}"
                with lock:
                    if err:
                        errors.append(err)
                    else:
                        lat.append(time.perf_counter() - t)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    after = _batches(url)
    sizes = {int(k): v - before.get("histogram", {}).get(k, 0)
             for k, v in after.get("histogram", {}).items()}
    sizes = {k: v for k, v in sizes.items() if v > 0}
    n_b = sum(sizes.values())
    q = statistics.quantiles(lat, n=20, method="inclusive") if len(lat) >= 2 else lat * 19
    return {"clients": clients, "requests": clients * requests, "errors": len(errors),
            "p50_s": statistics.median(lat) if lat else float("nan"),
            "p95_s": q[18] if lat else float("nan"),
            "throughput_rps": len(lat) / wall, "wall_s": wall, "first_error": errors[:1],
            "server_errors": server_errors[0], "batching": bool(after.get("enabled")),
            "largest_batch": max(sizes, default=0),
            "mean_batch": sum(k * v for k, v in sizes.items()) / n_b if n_b else 0.0}


def screenshot(url: str, image: bytes, out: Path) -> None:
    import shutil
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    os.environ.setdefault("SE_OFFLINE", "true")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or shutil.which("google-chrome")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--window-size=1200,820",
              f"--user-data-dir={tempfile.mkdtemp()}"):
        opts.add_argument(a)
    d = webdriver.Chrome(options=opts, service=webdriver.ChromeService(
        executable_path=shutil.which("chromedriver")))
    try:
        src = Path(tempfile.mkdtemp()) / "scalp.jpg"
        src.write_bytes(image)
        d.get(f"{url}/ui/")
        d.find_element(By.ID, "image").send_keys(str(src))
        d.find_element(By.ID, "go").click()
        WebDriverWait(d, 300).until(lambda x: x.find_element(By.ID, "result").is_displayed())
        out.parent.mkdir(parents=True, exist_ok=True)
        d.save_screenshot(str(out))
        print(f"screenshot of the web page: {out}")
    finally:
        d.quit()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--requests", type=int, default=4, help="requests per client")
    ap.add_argument("--screenshot", default="")
    args = ap.parse_args()
    proc = None
    url = args.url
    if not url:
        url, proc = _serve()
    try:
        images = _images(16)
        httpx.post(f"{url}/diagnose", files={"image": ("w.jpg", images[0], "image/jpeg")},
                   timeout=600)  # warm-up
        rows = [run_load(url, c, args.requests, images) for c in args.clients]
        if args.screenshot:
            screenshot(url, images[0], Path(args.screenshot))
    finally:
        if proc is not None:
            os.killpg(proc.pid, 15)
            proc.wait(30)
    print(f"\n`diagnose` on 127.0.0.1, {os.cpu_count()} CPU cores, one worker\n")
    print("| clients | requests | errors | 5xx | p50 (s) | p95 (s) | throughput (req/s) | "
          "largest batch | mean batch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['clients']} | {r['requests']} | {r['errors']} | {r['server_errors']} | "
              f"{r['p50_s']:.2f} | {r['p95_s']:.2f} | {r['throughput_rps']:.2f} | "
              f"{r['largest_batch'] if r['batching'] else 'off'} | {r['mean_batch']:.1f} |")
    for r in rows:
        if r["first_error"]:
            print(f"first error at {r['clients']} clients: {r['first_error'][0]}")
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    from _report import reported

    with reported("load_diagnose"):
        code = main()
    sys.exit(code)  # after the report is written
