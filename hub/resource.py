"""The Dagster resource every asset, check, sensor and job takes: the project."""

import dagster as dg

from hub.config import HubConfig, load_config
from hub.store import Store


class HubResource(dg.ConfigurableResource):
    """The project's hub.yaml and its governed store."""

    config_path: str
    "Path of hub.yaml."
    lock_timeout: float | None = None
    "Seconds to wait for another process's write lock on the store (default: hub.yaml's)."

    @property
    def config(self) -> HubConfig:
        return load_config(self.config_path)

    @property
    def store(self) -> Store:
        return Store.of(self.config, self.lock_timeout)
