"""`python -m pais_testing.e2e_support`: the e2e test support served inside the kind cluster.

Serves the scripted orchestrator model (`pais_testing.e2e_model`) on all interfaces at
`$E2E_MODEL_PORT` (default 8080), for the `e2e-support` Deployment of kind/overlays/e2e.
"""

from __future__ import annotations

import os

import uvicorn

from .e2e_model import ORCHESTRATOR_MODEL, orchestrator_model
from .scripted_model import ScriptedModelServer

__all__ = ["main"]


def main() -> None:
    """Serve the scripted model until SIGTERM."""
    model = ScriptedModelServer(orchestrator_model)
    model.model_name = ORCHESTRATOR_MODEL
    # ScriptedModelServer binds loopback for tests; in the pod the same app must face the Service.
    app = model._server.config.app
    port = int(os.environ.get("E2E_MODEL_PORT", "8080"))
    uvicorn.run(app, host="0.0.0.0", port=port, log_level="info")


if __name__ == "__main__":
    main()
