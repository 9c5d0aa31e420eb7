"""Signups as events: one Dagster partition per client, and a sensor that runs each new one.

An agent with `signups:` in hub.yaml is partitioned by client (`<agent>_signups`, a
`DynamicPartitionsDefinition` keyed by the signup table's primary key). `new_signups_sensor`
reads the signup table's keys from its source (through its connector, never the store),
adds a partition for each new one and requests a run of `signup_<agent>` for it: the loads
of every source the agent reads, everything built from them, and the agent for that client
alone. One client at a time, oldest first: two runs loading at once would make each other's
inputs out of date, and the gate would refuse one. A client is picked up once: its partition
exists from then on, and its run key is the client's (kept in the sensor's cursor, and
Dagster launches a run key once). A case still waiting for its draft with no run going (the
run was killed after the load opened the case, or a blocked signup was fixed at the source)
is run again, once per change of the case.
"""

import json

import dagster as dg

from hub import cases
from hub.cases import signup_agents
from hub.config import HubConfig
from hub.load import read_columns
from hub.resource import HubResource
from hub.store import Store, StoreError


def signup_partitions(agent: str) -> dg.DynamicPartitionsDefinition:
    return dg.DynamicPartitionsDefinition(name=f"{agent}_signups")


def signup_job_name(agent: str) -> str:
    return f"signup_{agent}"


def signup_jobs(config: HubConfig) -> list:
    """Per agent with signups: its signup table's load, what is built from it, the agent."""
    return [
        dg.define_asset_job(
            signup_job_name(name),
            # everything the agent reads, from its sources: the client's data may be in any
            # of them (its onboarding note, its billing account), not only the signup table
            selection=dg.AssetSelection.assets(agent_key(name))
            .upstream()
            .required_multi_asset_neighbors(),
            partitions_def=signup_partitions(name),
            description=f"A new client signed up in raw.{agent.signups.table}: load every "
            f"source agent `{name}` reads, unify, check, publish, and let it draft for that "
            "client alone.",
        )
        for name, agent in signup_agents(config).items()
    ]


def agent_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["agents", name])


def partitioned_agents(config: HubConfig) -> dict[str, dg.AssetKey]:
    return {name: agent_key(name) for name in signup_agents(config)}


def signup_keys(config: HubConfig, agent: str) -> list[str]:
    """The keys of the agent's signup table, as its source holds them now."""
    table = config.agents[agent].signups.table
    source, _, name = table.partition("__")
    key = config.sources[source].tables[name].primary_key[0]
    return sorted({row[0] for row in read_columns(config, source, name, [key]) if row[0]})


def new_signups(config: HubConfig, agent: str, instance: dg.DagsterInstance) -> list[str]:
    """The signup keys that have no partition yet."""
    known = set(instance.get_dynamic_partitions(signup_partitions(agent).name))
    return [key for key in signup_keys(config, agent) if key not in known]


def new_signups_sensor(jobs: list) -> dg.SensorDefinition:
    """The sensor, targeting the signup jobs (`signup_jobs`) it requests runs of."""
    return dg.sensor(
        name="new_signups_sensor",
        jobs=jobs,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="New rows in a signup table: one partition and one run per new client.",
    )(_new_signups)


def _new_signups(context: dg.SensorEvaluationContext, hub: HubResource):
    config = hub.config
    requested = set(json.loads(context.cursor or "[]"))
    requests, partitions, waiting = [], [], []
    for agent in signup_agents(config):
        try:
            new = new_signups(config, agent, context.instance)
        except Exception as exc:  # the source may be down: say so, try again next tick
            return dg.SkipReason(f"agent {agent}: cannot read its signups now: {exc}")
        if new:
            partitions.append(signup_partitions(agent).build_add_request(new))
        due = [d for d in _due(hub, agent, context.instance, new) if d[1] not in requested]
        if due and _in_flight(context.instance, agent):
            waiting.append(f"agent {agent}: {len(due)} client(s) wait for the run going now")
        elif due:
            key, run_key = due[0]  # one client at a time: two loads at once race the gate
            requests.append(_run_for(agent, key, run_key))
            requested.add(run_key)
    if not requests and not partitions:
        return dg.SkipReason("; ".join(waiting) or "no new signups")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=partitions,
        cursor=json.dumps(sorted(requested)),
    )


def _run_for(agent: str, key: str, run_key: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        job_name=signup_job_name(agent),
        partition_key=key,
        tags={"signup": key, "dagster/max_runtime": str(MAX_RUNTIME_SECONDS)},
    )


MAX_RUNTIME_SECONDS = 900
"A signup run still going after this long is ended by Dagster's run monitoring."


def _due(
    hub: HubResource, agent: str, instance: dg.DagsterInstance, new: list[str]
) -> list[tuple[str, str]]:
    """(client, run key) of the runs due, oldest signup first: a client with a partition
    and no case yet (a new signup), and a case waiting for its draft (a run killed after
    the load opened it, or a blocked signup fixed at the source). The run key carries the
    case's last change, so each is run once per change, never in a loop."""
    try:
        with Store.of(hub.config, SENSOR_LOCK_TIMEOUT).reader() as con:
            states = cases.states(con, agent)
    except StoreError:
        states = None  # a run holds the store: the new ones now, the rest next tick
    clients = [*instance.get_dynamic_partitions(signup_partitions(agent).name), *new]
    due = []
    for key in dict.fromkeys(clients):
        state = None if states is None else states.get(key)
        if state is None and (states is not None or key in new):
            due.append((key, f"signup:{agent}:{key}"))
        elif state is not None and state[0] == "drafting":
            due.append((key, f"signup:{agent}:{key}:{state[1]}"))
    return due


def _in_flight(instance: dg.DagsterInstance, agent: str) -> bool:
    runs = instance.get_runs(
        dg.RunsFilter(job_name=signup_job_name(agent), statuses=IN_FLIGHT), limit=1
    )
    return bool(runs)


IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
SENSOR_LOCK_TIMEOUT = 5.0
