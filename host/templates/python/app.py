"""A dialplane call flow in Python: the same behaviour as the Rust template
(dial everyone but opted-out leads; tag each with its outcome)."""

from wit_world import exports
from wit_world.exports.flow import Decision_Dial, Decision_Skip, FollowUp
from wit_world.imports import types
from wit_world.imports.log import Level, log

# `answered-human`, `busy`, `no-answer`, … as the Rust SDK's `label()`.
LABELS = {
    types.Outcome_Busy: "busy",
    types.Outcome_NoAnswer: "no-answer",
    types.Outcome_Rejected: "rejected",
    types.Outcome_InvalidNumber: "invalid-number",
    types.Outcome_NetworkError: "network-error",
    types.Outcome_Failed: "failed",
    types.Outcome_Canceled: "canceled",
    types.Outcome_Unknown: "unknown",
}


def label(outcome) -> str:
    if isinstance(outcome, types.Outcome_Answered):
        return "answered-" + outcome.value.name.lower()
    return LABELS[type(outcome)]


def setting_or(ctx, key: str, fallback: int) -> int:
    """The run setting `key` as a whole number, or `fallback`."""
    value = next((v for k, v in ctx.settings if k == key), "").strip()
    if value == "":
        return fallback
    if not value.isdigit():
        log(Level.WARN, f"setting `{key}` = {value!r} is invalid; using the default")
        return fallback
    return int(value)


def attr(lead, key: str):
    return next((v for k, v in lead.attributes if k == key), None)


class Flow(exports.Flow):
    def plan(self, ctx, lead):
        if attr(lead, "opted_out") == "yes":
            return Decision_Skip("lead opted out")
        return Decision_Dial(
            types.CallRequest(
                to=lead.phone,
                caller_id=None,
                timeout_secs=setting_or(ctx, "timeout_secs", 30),
                idempotency_key="",
                metadata=[],
            )
        )

    def on_result(self, ctx, lead, report):
        outcome = label(report.outcome)
        log(Level.INFO, f"{lead.id}: {outcome}")
        return FollowUp(retry_after_secs=None, lead_status=None, note=None, tags=[outcome])
