"""Run the triage service: ``python -m careflow.triage``."""

from careflow.kit.runtime import serve
from careflow.triage.app import build


def main() -> None:
    serve(build)


if __name__ == "__main__":
    main()
