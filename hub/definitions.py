"""The Dagster code location of the project in `$HUB_CONFIG` (default `./hub.yaml`).

`workspace.yaml` loads this module and `hub ui` runs `dagster dev` with it. The factories in
`assets/` build everything from hub.yaml; this module only picks the project, and starts
the demo's support API when the project is the demo (its runs start from this process).
"""

from assets import build_definitions
from hub.config import config_path, load_config
from hub.demo import start_demo_services

config = load_config()
start_demo_services(config.root)
defs = build_definitions(config, str(config_path()))
