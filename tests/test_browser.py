"""The browser acceptance check: a person starts a Custom run of the files deployment in the
Prefect UI, watches it complete, and reads its report. Headless Debian chromium via selenium;
screenshots land in test-output/ (gitignored)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, SEEDS
from tests.prefect_stack import FILES_DEPLOYMENT, PrefectStack, running_stack

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
OUTPUT = ROOT / "test-output"
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)
UI_WAIT_S = 30
RUN_WAIT_S = 180
CUSTOM_INBOX = "incoming"
VIEW_RUN = "//button[normalize-space(.)='View run']"
OOPS = "Something went wrong"


def require_browser() -> None:
    """Skip, saying why and how to fix it, where the browser cannot run."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.skip(
            f"browser test needs Debian's chromium and chromium-driver ({', '.join(missing)}"
            " missing): `apt-get install -y chromium chromium-driver` as root; `make test`"
            " installs them where it runs as root with apt"
        )
    pytest.importorskip("selenium", reason="browser test needs the selenium package")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    require_browser()  # before the server starts: a skip should cost nothing
    with running_stack(tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def fill_inbox(folder: Path) -> None:
    """Three articles and an exact copy of one: 4 seen, 3 new, 1 duplicate."""
    folder.mkdir()
    for name in ("000.txt", "001.txt", "002.txt"):
        shutil.copy(SEEDS / name, folder / name)
    shutil.copy(SEEDS / "002.txt", folder / "002-again.txt")


def clickable(driver: Any, xpath: str, timeout_s: float = UI_WAIT_S) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s).until(ec.element_to_be_clickable((By.XPATH, xpath)))


def replace_text(element: Any, text: str) -> None:
    """Select all and type, so the UI's own input handlers see the change (clear() does not
    fire them)."""
    from selenium.webdriver.common.keys import Keys

    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(text)


def page_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def open_custom_run_form(driver: Any, ui_url: str) -> str:
    """Deployments → the files deployment → Run → Custom run; returns the deployment page URL."""
    deployment = FILES_DEPLOYMENT.split("/")[1]
    driver.get(f"{ui_url}/deployments")
    clickable(driver, f"//a[normalize-space(.)='{deployment}']").click()
    clickable(driver, "//button[contains(@class, 'run-menu__run-button')]")
    deployment_url = driver.current_url.split("?")[0]
    clickable(driver, "//button[contains(@class, 'run-menu__run-button')]").click()
    clickable(driver, "//button[normalize-space(.)='Custom run']").click()
    clickable(driver, "//button[normalize-space(.)='Submit']")
    return deployment_url


def fill_and_submit(driver: Any) -> str:
    """Keep the generated run name, set the inbox and the batch size, submit; the run's name."""
    run_name = clickable(driver, "//input[contains(@class, 'p-text-input__control')]")
    name = run_name.get_attribute("value")
    replace_text(
        clickable(driver, "//textarea[contains(@class, 'p-textarea__control')]"), CUSTOM_INBOX
    )
    replace_text(clickable(driver, "//input[contains(@class, 'p-number-input__control')]"), "2")
    driver.save_screenshot(str(OUTPUT / "custom-run-form.png"))
    attempts = submit(driver)
    if attempts > 1:
        print(f"the UI said 'Something went wrong' {attempts - 1}x; Submit again worked")
    return name


def submit(driver: Any, tries: int = 3) -> int:
    """Click Submit until the UI confirms the run; how many clicks it took.

    Prefect's SQLite database sometimes answers 503 ("database is locked") while other writes
    are going on (PrefectHQ/prefect#18934); the UI then shows "Oops. Something went wrong"
    and keeps the form, and a person clicks Submit again. More than `tries` fails the test."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def errors() -> int:
        return len(driver.find_elements(By.XPATH, f"//*[text()[contains(., '{OOPS}')]]"))

    for attempt in range(1, tries + 1):
        before = errors()
        clickable(driver, "//button[normalize-space(.)='Submit']").click()
        created = WebDriverWait(driver, UI_WAIT_S).until(
            lambda d, before=before: d.find_elements(By.XPATH, VIEW_RUN) or errors() > before
        )
        if created is not True:
            return attempt
    raise AssertionError(f"the UI failed to create the run {tries} times")


def wait_for_completed_in_ui(driver: Any, stack: PrefectStack) -> None:
    """Follow the toast's 'View run' and wait until the run page shows Completed."""
    from selenium.webdriver.common.by import By

    clickable(driver, VIEW_RUN)
    # The UI stacks the same toast twice, one over the other: click the one on top.
    toasts = driver.find_elements(By.XPATH, VIEW_RUN)
    driver.execute_script("arguments[0].click();", toasts[-1])
    try:
        clickable(
            driver,
            "//*[contains(@class, 'state-badge') and contains(@class, 'state--completed')]",
            timeout_s=RUN_WAIT_S,
        )
    except Exception as error:
        driver.save_screenshot(str(OUTPUT / "failure-run-page.png"))
        raise AssertionError(
            f"the UI never showed the run Completed\n{stack.diagnostics()}"
        ) from error


def capture_artifact(driver: Any) -> str:
    """Run page → Artifacts tab → the report; screenshot it whole; return the page text."""
    clickable(driver, "//li[@id='artifacts']").click()
    clickable(
        driver,
        "//a[contains(@href, '/artifacts/artifact/') and "
        "contains(normalize-space(.), 'corpusflow-run-report')]",
    ).click()
    clickable(driver, "//*[contains(normalize-space(.), 'files seen')]")
    driver.set_window_size(1400, 1700)  # the report and its tables in one picture
    driver.save_screenshot(str(OUTPUT / "run-artifact.png"))
    driver.set_window_size(1400, 1000)
    return page_text(driver)


def find_run(stack: PrefectStack, name: str) -> Any:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with stack.client() as client:
        [run] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
        )
    return run


def test_custom_run_from_the_ui_completes_and_shows_its_report(
    stack: PrefectStack, browser: Any
) -> None:
    OUTPUT.mkdir(exist_ok=True)
    for stale in OUTPUT.glob("failure*.png"):
        stale.unlink()
    fill_inbox(stack.project / CUSTOM_INBOX)
    try:
        deployment_url = open_custom_run_form(browser, stack.ui_url)
        form = page_text(browser)
        assert "Directories or glob patterns" in form and "Files per batch" in form, form
        run_name = fill_and_submit(browser)
        wait_for_completed_in_ui(browser, stack)
        report = capture_artifact(browser)
        browser.get(deployment_url)
        clickable(browser, f"//a[normalize-space(.)='{run_name}']")
        browser.save_screenshot(str(OUTPUT / "deployment-page.png"))
    except Exception:
        browser.save_screenshot(str(OUTPUT / "failure.png"))
        raise

    run = find_run(stack, run_name)  # the form's values reached the run as parameters
    # The settings were left empty in the form: the worker's environment supplies them.
    assert run.parameters["params"] == {"inbox": [CUSTOM_INBOX], "batch_size": 2}
    assert run.parameters.get("settings") is None
    assert run.state.is_completed()
    assert "files seen" in report and f"corpusflow run {run.id.hex[:8]}" in report.replace(
        "\n", " "
    ), report
    for name in ("custom-run-form.png", "deployment-page.png", "run-artifact.png"):
        assert (OUTPUT / name).stat().st_size > 10_000, f"{name} looks empty"
