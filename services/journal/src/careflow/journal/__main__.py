"""Run the journal service: ``python -m careflow.journal``."""

from careflow.journal.app import build
from careflow.kit.runtime import serve


def main() -> None:
    serve(build)


if __name__ == "__main__":
    main()
