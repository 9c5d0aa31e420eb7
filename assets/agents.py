"""Agent assets: downstream of the served products, behind the foundation gate.

The gate runs first, in every run, whatever started it: if any blocking check on anything
the agent reads failed, errored, or has not run on the current data, the asset fails with
the list, writes an audit record, and no draft is written. A subject whose inputs are those
of its latest draft is not drafted again: that draft stays as it is, with its id, and the
run's `agent.run` audit record lists it under `kept`.
"""

import dagster as dg

from assets.copies import AGENT_COPY
from assets.guard import require_open_gate
from assets.keys import gated_automation
from hub import audit, drafts, gate
from hub.agents.runtime import AgentInputError, AgentOutputError, run_agent
from hub.config import HubConfig
from hub.resource import HubResource


def agent_assets(config: HubConfig) -> list[dg.AssetsDefinition]:
    return [_agent_asset(config, name) for name in config.agents]


def _agent_asset(config: HubConfig, name: str) -> dg.AssetsDefinition:
    agent = config.agents[name]

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
    )
    def run(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
        config, store = hub.config, hub.store
        verdict = require_open_gate(
            store, lambda con: gate.evaluate_agent(con, config, name), context.run_id
        )
        context.log.info(verdict.message())
        try:
            new = run_agent(
                config,
                name,
                skip=drafts.decided_subjects(store, name),
                proven=verdict.batches,
                drafted=drafts.drafted_inputs(store, name),
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
        kept = [d for d in pending if d not in written]
        flagged = [d.draft_id for d in new if d.review_reasons and d.draft_id in written]
        with store.transaction() as con:
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
                },
            )
        return dg.MaterializeResult(
            metadata={
                "drafts_new": len(written),
                "drafts_kept": len(kept),
                "drafts_pending": len(pending),
                "needs_review": len(flagged),
                "mode": agent.llm.provider,
                "subjects": [d.subject_name for d in new if d.draft_id in written],
            }
        )

    return run
