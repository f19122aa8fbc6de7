"""Real-Chromium test of the audience area (issue 3): a custom field, a list, a CSV import watched to the end,
its report, an inline contact edit, and a segment with a live count.

Huey runs in immediate mode in tests, so an import would be finished before its page loads. To see the
progress bar move, the test swaps the view's `run_import` for a stand-in that only notes the import, then
runs the real task in a thread of its own (like a worker process) that pauses after its first committed
chunk until the browser has shown that intermediate state.
"""
import re
import threading

import pytest
from playwright.sync_api import expect

import sendtex.lists.imports as import_views
import sendtex.tasks.imports as import_task
from sendtex.db import db
from tests.browser.test_foundation_browser import ConsoleWatch, assert_no_navigation, log_in, mark_page, screenshot
from tests.conftest import PASSWORD, make_account, make_user

ROWS = 300
BAD_INDEX = 41  # this data row has "not-an-address" as its e-mail address
BAD_LINE = BAD_INDEX + 2  # the header is line 1
EDITED = "person007@example.com"
LIST_NAME = "Newsletter"


def city_of(index):
    return "Ghent" if index % 10 == 0 else ("Antwerp" if index % 2 else "Bruges")


def email_of(index):
    return "not-an-address" if index == BAD_INDEX else f"person{index:03d}@example.com"


GHENT = {email_of(i) for i in range(ROWS) if city_of(i) == "Ghent" and i != BAD_INDEX}


@pytest.fixture
def watch(page):
    return ConsoleWatch(page)


class PausedWorker:
    """Stands in for the Huey worker: runs the real import task in a thread, pausing it after its first chunk."""

    def __init__(self, app, monkeypatch):
        self.app = app
        self.queued = []  # import ids the start view queued
        self.paused = threading.Event()  # the worker committed its first chunk and waits
        self.resume = threading.Event()
        self.thread = None
        real_step = import_task.step

        def step(work, done=None):
            real_step(work, done)
            if not self.resume.is_set():
                self.paused.set()
                self.resume.wait(timeout=30)

        monkeypatch.setattr(import_task, "step", step)
        monkeypatch.setattr(import_views, "run_import", self.queued.append)

    def start(self, import_id):
        def work():
            with self.app.app_context():
                import_task.run_import(import_id)  # immediate mode: runs right here, in this thread

        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()

    def stop(self):
        self.resume.set()
        if self.thread:
            self.thread.join(timeout=10)


@pytest.fixture
def worker(live_server, monkeypatch):
    live_server.config["IMPORT_CHUNK_ROWS"] = 100  # several committed chunks, so progress is saved part-way
    paused_worker = PausedWorker(live_server, monkeypatch)
    yield paused_worker
    paused_worker.stop()


def write_csv(path):
    lines = ["Email,First Name,Last Name,City"]
    lines += [f"{email_of(i)},First{i},Last{i},{city_of(i)}" for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_contacts_and_build_a_segment(live_server, page, watch, worker, tmp_path):
    base = live_server.url
    # 422 answers are deliberate: the live count of a segment whose condition has no value yet.
    watch.allowed_statuses.add(422)
    with live_server.app_context(), db.connection_context():
        user = make_user(make_account("Tulip Marketing"), email="audience@example.com")

    page.goto(f"{base}/login")
    page.locator("#consent-banner").get_by_role("button", name="Reject all").click()
    expect(page.locator("#consent-banner")).to_have_count(0)
    log_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(f"{base}/app")

    # A custom field "city", through the fields page.
    page.get_by_role("navigation").get_by_role("link", name="Lists", exact=True).click()
    page.get_by_role("link", name="The fields your contacts have, and which are encrypted").click()
    expect(page).to_have_url(f"{base}/fields")
    field_form = page.locator("#field-form")
    field_form.get_by_label("Label").fill("City")
    field_form.get_by_label("Key").fill("city")
    field_form.get_by_label("Type").select_option("text")
    field_form.get_by_role("button", name="Add the field").click()
    expect(page.locator("#fields tbody tr", has=page.locator("code", has_text="city"))).to_contain_text("Plain text")

    # A list, through the lists page.
    page.get_by_role("navigation").get_by_role("link", name="Lists", exact=True).click()
    expect(page).to_have_url(f"{base}/lists")
    list_form = page.locator("#list-create-form")
    list_form.get_by_label("Name").fill(LIST_NAME)
    list_form.get_by_role("button", name="Create the list").click()
    expect(page.locator("#lists .list-card h2")).to_have_text([LIST_NAME])

    # Upload the CSV file.
    page.get_by_role("navigation").get_by_role("link", name="Contacts", exact=True).click()
    page.locator(".page-head").get_by_role("link", name="Import", exact=True).click()
    expect(page).to_have_url(f"{base}/imports")
    page.locator("#import-file").set_input_files(write_csv(tmp_path / "contacts.csv"))
    page.get_by_role("button", name="Upload and map the columns").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    expect(page.locator("h1")).to_have_text("Map the columns of contacts.csv")

    # The guessed mapping: the built-in fields by their usual names, the custom field by its label.
    mapping = page.locator("#import-mapping")
    expect(mapping.get_by_label("Email", exact=True)).to_have_value("email")
    expect(mapping.get_by_label("First Name", exact=True)).to_have_value("first_name")
    expect(mapping.get_by_label("Last Name", exact=True)).to_have_value("last_name")
    expect(mapping.get_by_label("City", exact=True)).to_have_value("city")
    expect(mapping.locator("tbody tr").first).to_contain_text("person000@example.com")
    expect(mapping.locator("input[name=mode][value=subscribe]")).to_be_checked()
    mapping.get_by_label(LIST_NAME).check()
    screenshot(page, "import-mapping.png")
    mapping.get_by_role("button", name="Start the import").click()

    # The import is queued: the bar stands at 0 and the page polls it.
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    expect(page.locator("h1")).to_have_text("Import of contacts.csv")
    import_url = page.url
    progress = page.locator("#import-progress progress")
    expect(progress).to_have_attribute("value", "0")
    expect(page.locator("#import-progress .status")).to_have_text("queued")
    assert len(worker.queued) == 1
    mark_page(page)

    # The worker commits its first chunk and pauses: the bar shows a value between 0 and 100.
    worker.start(worker.queued[0])
    assert worker.paused.wait(timeout=10), "the import did not get through its first chunk"
    expect(page.locator("#import-progress .status")).to_have_text("running")
    expect(progress).to_have_attribute("value", re.compile(r"^[1-9]\d?$"))
    expect(page.locator("#import-progress")).to_contain_text("rows read")
    screenshot(page, "import-progress.png")

    # The worker goes on; the poll swaps in the report with the bar at 100.
    worker.resume.set()
    report = page.locator("#import-progress dl.report")
    expect(report).to_be_visible()
    expect(progress).to_have_attribute("value", "100")
    expect(page.locator("#import-progress .status")).to_have_text("finished")
    assert_no_navigation(page, import_url)
    worker.thread.join(timeout=10)

    # Open the report from the list of imports: the counts and the refused row with its line and reason.
    page.get_by_role("link", name="Import another file").click()
    expect(page).to_have_url(f"{base}/imports")
    history = page.locator("#import-upload table")
    expect(history.locator("tbody tr")).to_have_count(1)
    expect(history.locator("tbody tr td")).to_have_text(
        ["contacts.csv", re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"), "finished", str(ROWS - 1), "0", "1"])
    history.get_by_role("link", name="contacts.csv").click()
    expect(page).to_have_url(import_url)
    report = page.locator("#import-progress dl.report")
    expect(report.locator("dt")).to_have_text(["Rows read", "Contacts added", "Contacts updated", "Rows refused"])
    expect(report.locator("dd")).to_have_text([str(ROWS), str(ROWS - 1), "0", "1"])
    refused = page.locator("#import-progress table tbody tr")
    expect(refused).to_have_count(1)
    expect(refused.locator("td")).to_have_text([str(BAD_LINE), "Email", re.compile("not a valid e-mail address")])
    expect(page.get_by_role("link", name="Download every refused row as CSV")).to_be_visible()
    screenshot(page, "import-report.png")

    # The list counts its new subscribers.
    page.get_by_role("navigation").get_by_role("link", name="Lists", exact=True).click()
    expect(page).to_have_url(f"{base}/lists")
    counts = page.locator("#lists .list-card dl.counts > div")
    subscribed = counts.filter(has=page.locator("dt", has_text=re.compile(r"^subscribed$")))
    expect(subscribed.locator("dd")).to_have_text(str(ROWS - 1))

    # Find one contact by its exact address and edit it in its row.
    page.get_by_role("navigation").get_by_role("link", name="Contacts", exact=True).click()
    expect(page).to_have_url(f"{base}/contacts")
    mark_page(page)
    search = page.locator("#filter-q")
    search.fill(EDITED)
    search.press("Enter")
    rows = page.locator("#contacts-results tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row.locator("td.email")).to_have_text(EDITED)
    expect(row).to_contain_text("First7")
    expect(row.locator("td.memberships")).to_have_text(LIST_NAME)
    contacts_url = page.url
    assert "q=" in contacts_url  # the plain-text address may be in the URL (hx-push-url)

    row.get_by_role("link", name="Edit").click()
    expect(page.locator("#contacts-results tr.editing")).to_have_count(1)
    editing = page.locator("#contacts-results tr.editing")
    first_name = editing.get_by_label("First name")
    expect(first_name).to_have_value("First7")
    first_name.fill("Renamed")
    editing.get_by_role("button", name="Save").click()
    expect(page.locator("#contacts-results tr.editing")).to_have_count(0)
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").nth(2)).to_have_text("Renamed")
    expect(rows.first.locator("td.email")).to_have_text(EDITED)
    expect(page.locator("#flashes .flash-success")).to_have_text("The contact is saved.")
    assert_no_navigation(page, contacts_url)
    page.reload()
    expect(page.locator("#contacts-results tbody tr td").nth(2)).to_have_text("Renamed")

    # A segment: city equals Ghent and on the list; the live count follows every change.
    page.locator(".page-head").get_by_role("link", name="Segments", exact=True).click()
    expect(page).to_have_url(f"{base}/segments")
    page.get_by_role("link", name="New segment").click()
    expect(page).to_have_url(f"{base}/segments/new")
    editor_url = page.url
    mark_page(page)
    count = page.locator("#segment-count")
    expect(count).to_have_text(f"{ROWS - 1} contacts match.")  # no condition yet: every contact
    segment_form = page.locator("#segment-form")
    segment_form.get_by_label("Name").fill("Ghent people")
    expect(segment_form.get_by_label("Contacts must match")).to_have_value("all")

    page.locator("#c-0-field").select_option("city")
    expect(page.locator("#c-0-op")).to_have_value("eq")
    expect(count).to_contain_text("Complete the conditions to see a count")
    page.locator("#c-0-value").press_sequentially("Ghent")
    expect(count).to_have_text(f"{len(GHENT)} contacts match.")

    page.locator("#c-1-field").select_option("list")
    expect(page.locator("#c-1-op")).to_have_value("in")
    expect(page.locator("#c-1-value option:checked")).to_have_text(LIST_NAME)
    expect(count).to_have_text(f"{len(GHENT)} contacts match.")

    # "any" widens the selection to everyone on the list; back to "all".
    segment_form.get_by_label("Contacts must match").select_option("any")
    expect(count).to_have_text(f"{ROWS - 1} contacts match.")
    segment_form.get_by_label("Contacts must match").select_option("all")
    expect(count).to_have_text(f"{len(GHENT)} contacts match.")
    expect(page.locator("#c-0-value")).to_have_value("Ghent")
    assert_no_navigation(page, editor_url)
    screenshot(page, "segment-editor.png")

    # The off-screen twin of this button (for Enter) is aria-hidden, so the role query finds only this one.
    segment_form.get_by_role("button", name="Save the segment").click()
    expect(page).to_have_url(re.compile(r"/segments/\d+$"))
    segment_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("h1")).to_have_text("Ghent people")
    expect(page.locator("#flashes .flash-success")).to_have_text("The segment “Ghent people” is saved.")
    expect(page.locator("#c-0-field")).to_have_value("city")
    expect(page.locator("#c-0-value")).to_have_value("Ghent")
    expect(page.locator("#c-1-field")).to_have_value("list")
    expect(page.locator("#segment-count")).to_have_text(f"{len(GHENT)} contacts match.")

    page.get_by_role("link", name="View contacts").click()
    expect(page).to_have_url(f"{base}/contacts?segment={segment_id}")
    expect(page.locator("#filter-segment")).to_have_value(segment_id)
    expect(rows).to_have_count(len(GHENT))
    assert set(page.locator("#contacts-results td.email").all_inner_texts()) == GHENT

    watch.assert_clean()
