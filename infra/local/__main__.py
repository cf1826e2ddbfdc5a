"""Entry point of `python -m infra.local`."""

from infra.local.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
