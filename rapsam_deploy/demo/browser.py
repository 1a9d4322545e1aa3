"""Headless Chromium over the demo page, as a visitor uses it: open the page, switch tabs, pick a
sample or upload a file, click on a photo at a pixel, wait for the result, read the image shown,
take screenshots. For the end-to-end tests and ``benchmarks/demo_screenshots.py``.

Selenium drives Debian's ``chromium`` through Debian's ``chromedriver`` (apt: chromium,
chromium-driver): the two come from one source package, so their versions always match, and
nothing is downloaded (``playwright install`` cannot fetch its browser builds here, and
Playwright's protocol is pinned to its own builds).
"""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import cv2
import numpy as np

from ..artifacts.files import private_directory
from ..errors import RapSamError

# No GPU, no sandbox (containers run as root), nothing fetched in the background, a fresh profile.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
_BROWSERS = ("chromium", "chromium-browser")
_DRIVERS = ("chromedriver", "/usr/lib/chromium/chromedriver")


def find_chromium() -> tuple[str, str]:
    """The paths of chromium and its chromedriver, or a :class:`RapSamError` saying what to install."""
    browser = next((p for p in map(shutil.which, _BROWSERS) if p), None)
    driver = next((p for p in map(shutil.which, _DRIVERS) if p), None)
    if browser is None or driver is None:
        missing = " and ".join(n for n, p in (("chromium", browser), ("chromedriver", driver)) if p is None)
        raise RapSamError(f"{missing} not found", "apt-get install chromium chromium-driver")
    try:
        import selenium  # noqa: F401 (only whether it is installed)
    except ImportError as err:
        raise RapSamError("selenium is not installed", "pip install 'rapsam-deploy[dev]'") from err
    return browser, driver


class Browser:
    """One headless Chromium window of ``width`` x ``height`` CSS pixels; a context manager that
    quits the browser and removes its profile."""

    def __init__(self, width: int = 1280, height: int = 1000, timeout_s: float = 60.0) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        browser, driver = find_chromium()
        self.profile = str(private_directory("rapsam-chromium-"))
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in (*FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        # With both paths given, Selenium Manager (which looks for browsers and drivers online) stays out.
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=driver))
        self.timeout_s = timeout_s

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _wait(self, condition, what: str):
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, self.timeout_s).until(condition)
        except TimeoutException as err:
            raise TimeoutError(f"the page did not show {what} within {self.timeout_s:.0f} s") from err

    def element(self, css: str):
        """The first element matching ``css`` once it is displayed."""
        from selenium.webdriver.common.by import By

        def shown(driver):
            found = driver.find_elements(By.CSS_SELECTOR, css)
            return found[0] if found and found[0].is_displayed() else False

        return self._wait(shown, css)

    def open(self, url: str) -> None:
        """Load the page and wait until gradio has rendered it."""
        self.driver.get(url)
        self.element("#model-line")

    def tab(self, label: str) -> None:
        """Switch to the tab labelled ``label``."""
        from selenium.webdriver.common.by import By

        buttons = self.driver.find_elements(By.CSS_SELECTOR, "button[role='tab']")
        match = [b for b in buttons if b.text.strip() == label]
        if not match:
            raise RapSamError(f"no tab {label!r} (tabs: {[b.text for b in buttons]})")
        match[0].click()

    def upload(self, elem_id: str, path: str | Path) -> None:
        """Give the file input of component ``elem_id`` a file, as choosing it in the dialog does."""
        from selenium.webdriver.common.by import By

        css = f"#{elem_id} input[type='file']"  # hidden behind the drop zone: present, not displayed
        found = self._wait(lambda d: d.find_elements(By.CSS_SELECTOR, css), f"an empty file box in #{elem_id}")
        found[0].send_keys(str(Path(path).resolve()))

    def choose(self, elem_id: str, option: str) -> None:
        """Pick ``option`` in the dropdown ``elem_id``."""
        from selenium.webdriver.common.by import By

        self.element(f"#{elem_id} input").click()
        css = f"#{elem_id} li[role='option']"
        options = self._wait(lambda d: d.find_elements(By.CSS_SELECTOR, css), f"the options of #{elem_id}")
        match = [o for o in options if o.get_attribute("aria-label") == option]
        if not match:
            raise RapSamError(f"no option {option!r} in #{elem_id}")
        match[0].click()

    def pick(self, elem_id: str, label: str) -> None:
        """Pick the radio button labelled ``label`` in ``elem_id``."""
        from selenium.webdriver.common.by import By

        self.element(f"#{elem_id}")
        match = [e for e in self.driver.find_elements(By.CSS_SELECTOR, f"#{elem_id} label") if e.text.strip() == label]
        if not match:
            raise RapSamError(f"no choice {label!r} in #{elem_id}")
        match[0].click()

    def set_number(self, elem_id: str, value: float) -> None:
        """Type ``value`` into the number box of ``elem_id`` (a slider's), as a visitor does."""
        from selenium.webdriver.common.keys import Keys

        box = self.element(f"#{elem_id} input[type='number']")
        box.clear()
        box.send_keys(str(value), Keys.TAB)

    def press(self, elem_id: str) -> None:
        self.element(f"#{elem_id}").click()

    def wait_for_text(self, elem_id: str, text: str) -> str:
        """The text of ``elem_id`` once it contains ``text``."""
        from selenium.webdriver.common.by import By

        def has(driver):
            found = driver.find_elements(By.CSS_SELECTOR, f"#{elem_id}")
            return found[0].text if found and text in found[0].text else False

        return self._wait(has, f"{text!r} in #{elem_id}")

    def wait_idle(self) -> None:
        """Wait until no component shows gradio's progress overlay (results drawn, nothing pending)."""
        from selenium.webdriver.common.by import By

        def idle(driver):
            trackers = driver.find_elements(By.CSS_SELECTOR, "[data-testid='status-tracker']")
            return all("hide" in (t.get_attribute("class") or "").split() for t in trackers)

        self._wait(idle, "every component idle")

    def wait_for_message(self, text: str) -> None:
        """Wait until the page shows a message (gradio's toast) containing ``text``."""
        from selenium.webdriver.common.by import By

        self._wait(lambda d: text in d.find_element(By.TAG_NAME, "body").text, f"the message {text!r}")

    def click_image(self, elem_id: str, x: float, y: float) -> None:
        """Click the image shown in ``elem_id`` at its pixel (x, y) (the image as sent, before
        the page scales it into its box, centred, keeping its aspect)."""
        from selenium.webdriver.common.action_chains import ActionChains

        image = self.element(f"#{elem_id} img")
        natural_w, natural_h = self.driver.execute_script(
            "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", image
        )
        shown_w, shown_h = image.size["width"], image.size["height"]
        scale = min(shown_w / natural_w, shown_h / natural_h)
        dx, dy = (x + 0.5 - natural_w / 2) * scale, (y + 0.5 - natural_h / 2) * scale
        ActionChains(self.driver).move_to_element_with_offset(image, round(dx), round(dy)).click().perform()

    def image(self, elem_id: str, previous: str | None = None) -> tuple[np.ndarray, str]:
        """The image ``elem_id`` shows, RGB uint8 [H,W,3], and its URL; with ``previous``, once
        the URL is another (a new result arrived)."""
        from selenium.webdriver.common.by import By

        def source(driver):
            found = driver.find_elements(By.CSS_SELECTOR, f"#{elem_id} img")
            url = found[0].get_attribute("src") if found else None
            return url if url and url != previous else False

        url = self._wait(source, f"a new image in #{elem_id}")
        with urllib.request.urlopen(url, timeout=self.timeout_s) as response:  # the page's own server
            data = np.frombuffer(response.read(), np.uint8)
        return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]), url

    def screenshot(self, path: str | Path) -> None:
        """The window as a PNG."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if not self.driver.save_screenshot(str(path)):
            raise RapSamError(f"cannot write the screenshot {path}")
