"""`python -m pais_server`: serve the agent the environment describes on `0.0.0.0:$AGENT_PORT`."""

from __future__ import annotations

import sys

from pais_core import ConfigError, Settings

from ._app import serve


def main() -> None:
    try:
        settings = Settings.from_env()
        serve(settings=settings)
    except ConfigError as exc:
        print(f"pais-server: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
