"""The Dagster code location of the project in `$HUB_CONFIG` (default `./hub.yaml`).

`workspace.yaml` loads this module and `hub ui` runs `dagster dev` with it. The factories in
`assets/` build everything from hub.yaml; this module only picks the project.
"""

from assets import build_definitions
from hub.config import config_path, load_config

defs = build_definitions(load_config(), str(config_path()))
