"""The README's tour, through a client generated from /api/openapi.json.

Run by the `openapi_client` e2e test against a live `dialplane serve`, with
the generated package `dialplane_client` on PYTHONPATH and in the
environment: DIALPLANE_API (base URL), DIALPLANE_ADMIN_KEY,
DIALPLANE_TENANT_KEY, DIALPLANE_SIM_DIALER and DIALPLANE_DEFAULT_FLOW (paths
of the two components). Every answer is checked as the generated model class
the document names (not a dict), so a response the document mistypes fails
here. Prints `tour ok` at the end.
"""

import io
import os
import time

from dialplane_client import AuthenticatedClient, Client
from dialplane_client.api.admin import upload_dialer
from dialplane_client.api.dnc import add_dnc
from dialplane_client.api.leads import get_lead, import_leads, list_leads
from dialplane_client.api.operations import healthz
from dialplane_client.api.plugins import upload_flow
from dialplane_client.api.runs import (
    cancel_run,
    create_run,
    get_run,
    get_run_job,
    list_run_jobs,
    list_runs,
    stream_run_events,
)
from dialplane_client.models import (
    Attempt,
    CallingWindow,
    CancelRun,
    CreateRun,
    DncAdd,
    DncAdded,
    Error,
    Health,
    ImportResult,
    JobDetail,
    JobWithAttempts,
    Lead,
    LeadImportRow,
    PagedJobWithAttempts,
    PagedLead,
    PagedRun,
    PluginVersion,
    Run,
    RunSettings,
)
from dialplane_client.types import File

# Leads of the run, and its pace: slow enough that the cancel always comes
# while calls remain (LEADS / CALLS_PER_SECOND seconds at least).
LEADS = 40
CALLS_PER_SECOND = 2.0
# How long a worker may take to claim the run.
CLAIMED_WITHIN_SECS = 60
POLL_SECS = 0.05

API = os.environ["DIALPLANE_API"]


def parsed(response, cls, status):
    """The response's body as `cls`, after checking the status."""
    assert response.status_code == status, (response.status_code, response.content)
    assert isinstance(response.parsed, cls), (type(response.parsed), response.content)
    return response.parsed


def component(env):
    with open(os.environ[env], "rb") as f:
        return File(payload=io.BytesIO(f.read()), mime_type="application/wasm")


public = Client(base_url=API)
admin = AuthenticatedClient(base_url=API, token=os.environ["DIALPLANE_ADMIN_KEY"])
tenant = AuthenticatedClient(base_url=API, token=os.environ["DIALPLANE_TENANT_KEY"])

assert parsed(healthz.sync_detailed(client=public), Health, 200).status == "ok"

# Install the sim dialer (admin key) and upload a call flow (tenant key).
dialer = parsed(
    upload_dialer.sync_detailed("sim-dialer", client=admin, body=component("DIALPLANE_SIM_DIALER")),
    PluginVersion,
    201,
)
assert (dialer.kind, dialer.name, dialer.version, dialer.active) == ("dialer", "sim-dialer", 1, True)
flow = parsed(
    upload_flow.sync_detailed("default-flow", client=tenant, body=component("DIALPLANE_DEFAULT_FLOW")),
    PluginVersion,
    201,
)
assert (flow.kind, flow.name, flow.active) == ("flow", "default-flow", True)

# Import leads as JSON: good rows stored, the bad one reported.
rows = [
    LeadImportRow(external_id=f"L-{i}", phone=f"+1415555{i:04d}", timezone="America/Los_Angeles")
    for i in range(1, LEADS + 1)
]
rows.append(LeadImportRow(external_id="L-bad", phone="not-a-number"))
imported = parsed(import_leads.sync_detailed(client=tenant, body=rows), ImportResult, 200)
assert (imported.created, imported.updated) == (LEADS, 0), imported
assert [(e.row, e.field) for e in imported.errors] == [(LEADS + 1, "phone")], imported.errors
lead_ids = [s.id for s in imported.stored]
assert all(isinstance(i, int) for i in lead_ids)

# And as CSV, the operation's other media type. openapi-python-client
# 0.29 cannot generate a body that is a JSON array or a file (it emits
# `isinstance(body, list[...])`), so it generates the JSON one only and this
# posts the CSV through the generated client's own HTTP client, reading the
# answer with the generated model.
answer = tenant.get_httpx_client().post(
    "/api/leads",
    content=b"external_id,phone,tags\nC-1,+14155559999,vip;csv\n",
    headers={"Content-Type": "text/csv"},
)
assert answer.status_code == 200, answer.content
from_csv = ImportResult.from_dict(answer.json())
assert (from_csv.created, from_csv.errors) == (1, []), from_csv
csv_lead = parsed(get_lead.sync_detailed(from_csv.stored[0].id, client=tenant), Lead, 200)
assert (csv_lead.external_id, csv_lead.tags) == ("C-1", ["vip", "csv"]), csv_lead
listed = parsed(list_leads.sync_detailed(client=tenant, tag="csv"), PagedLead, 200)
assert [lead.external_id for lead in listed.items] == ["C-1"]

added = parsed(add_dnc.sync_detailed(client=tenant, body=DncAdd(phones=["+14155559999"])), DncAdded, 200)
assert (added.added, added.already_listed) == (1, 0)

# Start a run over the imported leads.
settings = RunSettings(
    concurrency=1,
    calls_per_second=CALLS_PER_SECOND,
    calling_window=CallingWindow(start="00:00", end="24:00"),
)
body = CreateRun(lead_ids=lead_ids, flow="default-flow", dialer="sim-dialer", settings=settings)
run = parsed(create_run.sync_detailed(client=tenant, body=body), Run, 201)
assert (run.total_leads, run.flow.name, run.dialer) == (LEADS, "default-flow", "sim-dialer"), run
assert run.settings.calls_per_second == CALLS_PER_SECOND
runs = parsed(list_runs.sync_detailed(client=tenant), PagedRun, 200)
assert run.id in [r.id for r in runs.items]

# Wait for a worker to claim it.
deadline = time.monotonic() + CLAIMED_WITHIN_SECS
while run.status == "queued":
    assert time.monotonic() < deadline, f"the run was never claimed: {run}"
    time.sleep(POLL_SECS)
    run = parsed(get_run.sync_detailed(run.id, client=tenant), Run, 200)
assert run.status == "running", run

# Its jobs, two per page.
page = parsed(list_run_jobs.sync_detailed(run.id, client=tenant, limit=2), PagedJobWithAttempts, 200)
assert len(page.items) == 2 and isinstance(page.next_cursor, str), page
assert all(isinstance(j, JobWithAttempts) for j in page.items)
following = parsed(
    list_run_jobs.sync_detailed(run.id, client=tenant, limit=2, cursor=page.next_cursor),
    PagedJobWithAttempts,
    200,
)
assert {j.id for j in following.items}.isdisjoint({j.id for j in page.items})

# Cancel: returns once no call can start; the run ends cancelled.
cancelled = parsed(
    cancel_run.sync_detailed(run.id, client=tenant, body=CancelRun(mode="hangup")), Run, 200
)
assert cancelled.cancel_requested is True, cancelled
# The event stream ends with the terminal `state` event.
events = parsed(stream_run_events.sync_detailed(run.id, client=tenant), str, 200)
assert events.rstrip().splitlines()[-2] == "event: state", events[-500:]
run = parsed(get_run.sync_detailed(run.id, client=tenant), Run, 200)
assert run.status == "cancelled", run
assert run.jobs.additional_properties.get("cancelled", 0) > 0, run
assert isinstance(run.finished_at, str), run

# Every job, page by page, with its attempts.
jobs, cursor = [], None
while True:
    kwargs = {"cursor": cursor} if cursor else {}
    page = parsed(
        list_run_jobs.sync_detailed(run.id, client=tenant, limit=7, **kwargs), PagedJobWithAttempts, 200
    )
    jobs += page.items
    cursor = page.next_cursor
    if not isinstance(cursor, str):
        break
assert sorted(j.lead_id for j in jobs) == sorted(lead_ids), jobs
assert "cancelled" in {j.state for j in jobs}, jobs
for job in jobs:
    assert all(isinstance(a, Attempt) and isinstance(a.placed, bool) for a in job.attempts), job

# Filtered on the server, and one job with its lead and attempt timeline.
cancelled_jobs = parsed(
    list_run_jobs.sync_detailed(run.id, client=tenant, status="cancelled", limit=500),
    PagedJobWithAttempts,
    200,
)
assert cancelled_jobs.items and all(j.state == "cancelled" for j in cancelled_jobs.items), cancelled_jobs
job = parsed(get_run_job.sync_detailed(run.id, jobs[0].id, client=tenant), JobDetail, 200)
assert job.id == jobs[0].id and job.lead.id == jobs[0].lead_id, job
assert job.phase == job.state or job.state == "dialing", job

# Errors are typed too.
missing = parsed(get_run.sync_detailed(run.id + 1000, client=tenant), Error, 404)
assert missing.error.code == "not_found", missing

print("tour ok")
