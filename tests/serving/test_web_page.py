"""The service's web page in headless Chromium (Debian's chromium + chromium-driver): a real
file upload, then a check that the page shows the overlay, the count, the widths and the grade
with probabilities the API gives for the same image - and a readable error for a bad file."""

import os
import shutil
from pathlib import Path

import httpx
import pytest

CHROMIUM = next((p for p in (os.environ.get("CHROMIUM_BIN"), shutil.which("chromium"),
                             shutil.which("chromium-browser"), shutil.which("google-chrome"))
                 if p), None)
DRIVER = os.environ.get("CHROMEDRIVER_BIN") or shutil.which("chromedriver") or next(
    (str(p) for p in [Path(os.environ.get("CHROMEWEBDRIVER", "/nonexistent")) / "chromedriver"]
     if p.is_file()), None)   # GitHub's ubuntu runners ship Chrome + chromedriver there

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="headless Chromium needs Debian's chromium + chromium-driver "
           "(apt-get install chromium chromium-driver; scripts/setup.sh does it as root)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver

    os.environ.setdefault("SE_OFFLINE", "true")   # no Selenium Manager downloads
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update", "--no-first-run",
              "--disable-sync", "--window-size=1200,900",
              f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        opts.add_argument(a)
    d = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=DRIVER))
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def _analyse(browser, url, path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{url}/ui/")
    browser.find_element(By.ID, "image").send_keys(str(path))
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 180).until(
        lambda d: d.find_element(By.ID, "result").is_displayed()
        or d.find_element(By.ID, "error").text)
    return By


def test_upload_shows_overlay_count_widths_and_grade(served, browser):
    api = httpx.post(f"{served.url}/diagnose", timeout=120,
                     files={"image": ("scalp.png", served.image.read_bytes(), "image/png")}).json()
    By = _analyse(browser, served.url, served.image)
    assert browser.find_element(By.ID, "error").text == ""
    img = browser.find_element(By.ID, "overlay")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth",
                                  img) == 640
    assert browser.find_element(By.ID, "grade").text == str(api["alopecia"]["grade"])
    rows = browser.find_elements(By.CSS_SELECTOR, "#probs tr[data-grade]")
    shown = {r.get_attribute("data-grade"): float(r.find_elements(By.TAG_NAME, "td")[1].text)
             for r in rows}
    assert set(shown) == {"0", "1", "2", "3"}
    for g, p in api["alopecia"]["probabilities"].items():
        assert shown[g] == pytest.approx(p, abs=6e-4)
    feats = browser.find_element(By.ID, "features").text
    assert f"hair count {api['hair_features']['hair_count']}" in feats
    assert f"mean width (px) {api['hair_features']['mean_width_px']:.2f}" in feats
    for c, v in api["scalp_conditions"].items():  # the classifier role's answer is shown too
        line = next(x for x in feats.splitlines() if x.startswith(f"{c} "))
        assert line.startswith(f"{c} uncertain (best " if v["uncertain"] else
                               f"{c} grade {v['grade']} (p ")
        assert float(line.rsplit(" ", 1)[1].rstrip(")")) == pytest.approx(v["confidence"], abs=0.006)
    assert "segmenter scalpvision-hair-segmenter v1" in browser.find_element(By.ID, "models").text
    shot = Path(os.environ.get("SCALPVISION_SCREENSHOT", served.tmp / "web_page.png"))
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_bad_file_shows_the_error(served, browser, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    By = _analyse(browser, served.url, bad)
    err = browser.find_element(By.ID, "error").text
    assert "notes.txt" in err and "not a PNG" in err
    assert not browser.find_element(By.ID, "result").is_displayed()
