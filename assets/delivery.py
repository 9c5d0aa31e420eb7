"""Delivery: a job that sends approved drafts, and a sensor that starts it when some wait."""

import dagster as dg

from hub import cases
from hub.delivery import Outcome, deliver_approved
from hub.drafts import approved_ids
from hub.resource import HubResource
from hub.store import Store, StoreError

SENSOR_LOCK_TIMEOUT = 5.0
OUTCOMES = "outcomes"
"Metadata key of the step's per-draft outcomes (on its output, or on its failure)."


@dg.op(
    description="Send every approved draft (SMTP, or the outbox), exactly once; report drafts "
    "whose sending is unknown."
)
def deliver_approved_drafts(context: dg.OpExecutionContext, hub: HubResource) -> dg.Output[int]:
    """Each draft is delivered or not on its own; the step fails after all were tried if any
    was not delivered (failed, unknown, not sent now), naming each (the others went out)."""
    outcomes = deliver_approved(hub.config, hub.store, run_id=context.run_id)
    for item in outcomes:
        context.log.info(item.describe())
    _observe_case_clocks(context, hub)
    said = dg.MetadataValue.json([vars(o) for o in outcomes])
    problems = [o for o in outcomes if o.status != "delivered"]
    if problems:
        raise dg.Failure(
            description="; ".join(o.describe() for o in problems),
            metadata={
                "delivered": len(outcomes) - len(problems),
                "not_delivered": len(problems),
                OUTCOMES: said,
            },
        )
    return dg.Output(len(outcomes), metadata={"delivered": len(outcomes), OUTCOMES: said})


def _observe_case_clocks(context: dg.OpExecutionContext, hub: HubResource) -> None:
    """The case clock of each agent drafting per signup, observed on its asset after every
    delivery: decisions and deliveries happen after the agent ran, and the UI plots these."""
    config = hub.config
    agents = list(cases.signup_agents(config))
    if not agents:
        return
    with hub.store.reader() as con:
        clocks = {name: cases.clock_metadata(con, name) for name in agents}
    for name, clock in clocks.items():
        context.log_event(dg.AssetObservation(asset_key=["agents", name], metadata=clock))


def run_outcomes(instance: dg.DagsterInstance, run_id: str) -> list[Outcome] | None:
    """What a `deliver_drafts` run did to each draft, from its step's event; None when the
    step did not get as far as reporting (it failed before, or never ran)."""
    for record in instance.all_logs(
        run_id, of_type={dg.DagsterEventType.STEP_OUTPUT, dg.DagsterEventType.STEP_FAILURE}
    ):
        event = record.dagster_event
        data = event.event_specific_data if event else None
        if event and event.is_step_failure:
            data = data.user_failure_data
        said = (getattr(data, "metadata", None) or {}).get(OUTCOMES)
        if said is not None:
            return [Outcome(**item) for item in said.value]
    return None


@dg.job(description="Deliver approved drafts (SMTP or outbox files); nothing unapproved is sent.")
def deliver_drafts() -> None:
    deliver_approved_drafts()


@dg.sensor(
    job=deliver_drafts, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING
)
def approved_drafts_sensor(context: dg.SensorEvaluationContext, hub: HubResource):
    """Requests a delivery run when approved drafts wait; one run per set of drafts. Drafts
    left `sending` never start a run (nothing sends them again without a human)."""
    store = Store.of(hub.config, SENSOR_LOCK_TIMEOUT)
    try:
        waiting = approved_ids(store)
    except StoreError as exc:
        return dg.SkipReason(f"store not readable now: {exc}")
    if not waiting:
        return dg.SkipReason("no approved drafts waiting")
    return dg.RunRequest(run_key="deliver:" + ",".join(waiting), tags={"drafts": len(waiting)})
