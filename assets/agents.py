"""Agent assets: downstream of the served products, behind the foundation gate.

The gate runs first, in every run, whatever started it: if any blocking check on anything
the agent reads failed, errored, or has not run on the current data, the asset fails with
the list, writes an audit record, and no draft is written. A subject whose inputs are those
of its latest draft is not drafted again: that draft stays as it is, with its id, and the
run's `agent.run` audit record lists it under `kept`.

An agent with `signups:` is partitioned by client (`assets/signups.py`): a run drafts for
the clients of its partition(s) only, and the gate also holds per client: a client whose
signup was blocked at load, or who signed up twice, gets no draft (`hub.cases`), and a run
of that one client's partition fails saying why. The others are not held up by it.
"""

import dagster as dg

from assets.copies import AGENT_COPY
from assets.guard import require_open_gate
from assets.keys import gated_automation
from assets.openlineage import openlineage
from assets.signups import signup_partitions
from hub import audit, cases, drafts, gate
from hub.agents.runtime import AgentInputError, AgentOutputError, run_agent
from hub.config import HubConfig
from hub.resource import HubResource


def agent_assets(config: HubConfig) -> list[dg.AssetsDefinition]:
    return [_agent_asset(config, name) for name in config.agents]


def _agent_asset(config: HubConfig, name: str) -> dg.AssetsDefinition:
    agent = config.agents[name]
    partitions = signup_partitions(name) if agent.signups else None

    @dg.asset(
        key=["agents", name],
        group_name="agents",
        kinds={"llamaindex"},
        deps=[*(dg.AssetKey(["serve", p]) for p in agent.products), AGENT_COPY],
        owners=agent.owners,
        automation_condition=gated_automation(),
        description=f"Agent `{name}`: {agent.description} Writes one pending draft per row of "
        f"`serve.{agent.subjects}` into `agents.drafts`; a human approves before delivery.",
        metadata={"llm": agent.llm.provider, "tools": agent.tools, "max_steps": agent.max_steps},
        partitions_def=partitions,
        # `hub run` drafts for every client in one step, not one run per client
        backfill_policy=dg.BackfillPolicy.single_run() if partitions else None,
    )
    @openlineage(config)
    def run(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
        config, store = hub.config, hub.store
        verdict = require_open_gate(
            store, lambda con: gate.evaluate_agent(con, config, name), context.run_id
        )
        context.log.info(verdict.message())
        keys = context.partition_keys if partitions else None
        ready, waiting = {}, {}
        if keys is not None:
            with store.transaction() as con:
                ready, waiting = cases.subjects_for(con, config, name, keys)
            for key, why in waiting.items():
                context.log.warning(f"no draft for {key}: {why}")
        try:
            new = run_agent(
                config,
                name,
                skip=drafts.decided_subjects(store, name),
                proven=verdict.batches,
                drafted=drafts.drafted_inputs(store, name),
                only=None if keys is None else set(ready.values()),
            )
        except (AgentOutputError, AgentInputError) as exc:
            with store.transaction() as con:
                audit.append(
                    con,
                    actor=f"agent:{name}",
                    action="agent.failed",
                    target=f"agents.{name}",
                    details={
                        "error": str(exc),
                        "tool_calls": getattr(exc, "tool_calls", []),
                        "run_id": context.run_id,
                    },
                )
            raise dg.Failure(description=f"agent {name}: {exc}. No draft was written.") from None
        written = drafts.record(store, name, new, context.run_id)
        pending = drafts.pending_ids(store, name)
        flagged = [d.draft_id for d in new if d.review_reasons and d.draft_id in written]
        with store.transaction() as con:
            clock = {}
            if keys is not None:
                live = cases.live_drafts(con, name, set(ready.values()))
                drafted = {k: (s, live[s]) for k, s in ready.items() if s in live}
                cases.mark_drafted(con, name, drafted, verdict.batches, context.run_id)
                pending = [d for _, d in drafted.values() if d in pending]
                clock = cases.clock_metadata(con, name)
                if len(keys) == 1:
                    clock |= cases.case_metadata(con, name, keys[0])
            kept = [d for d in pending if d not in written]
            audit.append(
                con,
                actor=f"agent:{name}",
                action="agent.run",
                target=f"agents.{name}",
                details={
                    "drafts": len(written),
                    "kept": kept,
                    "needs_review": flagged,
                    "mode": agent.llm.provider,
                    "run_id": context.run_id,
                    **({"clients": keys, "not_drafted": waiting} if keys is not None else {}),
                },
            )
        if keys is not None and len(keys) == 1 and waiting:
            raise dg.Failure(
                description=f"agent {name}, client {keys[0]}: {waiting[keys[0]]}. No agent ran.",
                metadata=clock,
            )
        return dg.MaterializeResult(
            metadata={
                "drafts_new": len(written),
                "drafts_kept": len(kept),
                "drafts_pending": len(pending),
                "needs_review": len(flagged),
                "mode": agent.llm.provider,
                "subjects": [d.subject_name for d in new if d.draft_id in written],
                **clock,
                **({"not_drafted": dg.MetadataValue.json(waiting)} if waiting else {}),
            }
        )

    return run
