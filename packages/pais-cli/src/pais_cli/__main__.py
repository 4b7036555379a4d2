"""`python -m pais_cli` runs the `pais` command."""

from pais_cli import main

if __name__ == "__main__":  # guarded: uvicorn's reloader re-imports the main module in its worker
    main()
