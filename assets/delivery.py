"""Delivery: a job that sends approved drafts, and a sensor that starts it when some wait."""

import dagster as dg

from hub.delivery import deliver_approved
from hub.drafts import approved_ids
from hub.resource import HubResource
from hub.store import Store, StoreError

SENSOR_LOCK_TIMEOUT = 5.0


@dg.op(description="Write every approved, undelivered draft to the outbox, exactly once.")
def deliver_approved_drafts(context: dg.OpExecutionContext, hub: HubResource) -> int:
    """Each draft is delivered or failed on its own; the step fails after all were tried
    if any could not be sent, naming each (the others went out)."""
    outcomes = deliver_approved(hub.config, hub.store, run_id=context.run_id)
    for item in outcomes:
        context.log.info(f"{item.draft_id}: {item.status} ({item.detail})")
    problems = [o for o in outcomes if o.status != "delivered"]
    if problems:
        raise dg.Failure(
            description="; ".join(f"draft {o.draft_id} {o.status}: {o.detail}" for o in problems),
            metadata={"delivered": len(outcomes) - len(problems), "not_sent": len(problems)},
        )
    return len(outcomes)


@dg.job(description="Deliver approved drafts (outbox files); nothing unapproved is sent.")
def deliver_drafts() -> None:
    deliver_approved_drafts()


@dg.sensor(
    job=deliver_drafts, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING
)
def approved_drafts_sensor(context: dg.SensorEvaluationContext, hub: HubResource):
    """Requests a delivery run when approved drafts wait; one run per set of drafts."""
    store = Store.of(hub.config, SENSOR_LOCK_TIMEOUT)
    try:
        waiting = approved_ids(store)
    except StoreError as exc:
        return dg.SkipReason(f"store not readable now: {exc}")
    if not waiting:
        return dg.SkipReason("no approved drafts waiting")
    return dg.RunRequest(run_key="deliver:" + ",".join(waiting), tags={"drafts": len(waiting)})
