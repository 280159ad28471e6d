"""Run the triage service: ``python -m careflow.triage``."""

from careflow.triage.app import build
from careflow.kit.runtime import serve


def main() -> None:
    serve(build)


if __name__ == "__main__":
    main()
