"""Run the notify service: ``python -m careflow.notify``."""

from careflow.notify.app import build
from careflow.kit.runtime import serve


def main() -> None:
    serve(build)


if __name__ == "__main__":
    main()
