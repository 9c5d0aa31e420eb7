"""Delivery: a job that sends approved drafts, and a sensor that starts it when some wait."""

import dagster as dg

from hub.delivery import approved_undelivered, deliver_approved
from hub.resource import HubResource
from hub.store import Store, StoreError

SENSOR_LOCK_TIMEOUT = 5.0


@dg.op(description="Write every approved, undelivered draft to the outbox, exactly once.")
def deliver_approved_drafts(context: dg.OpExecutionContext, hub: HubResource) -> int:
    delivered = deliver_approved(hub.config, hub.store, run_id=context.run_id)
    for item in delivered:
        context.log.info(f"delivered {item.draft_id} -> {item.path.name}")
    return len(delivered)


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
        waiting = approved_undelivered(store)
    except StoreError as exc:
        return dg.SkipReason(f"store not readable now: {exc}")
    if not waiting:
        return dg.SkipReason("no approved drafts waiting")
    return dg.RunRequest(run_key="deliver:" + ",".join(waiting), tags={"drafts": len(waiting)})
