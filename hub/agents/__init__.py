"""Agents: LlamaIndex `FunctionAgent`s that read the governed copy and write drafts only."""
