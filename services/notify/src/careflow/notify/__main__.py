"""Run the notify service: ``python -m careflow.notify``."""

from careflow.kit.runtime import serve
from careflow.notify.app import build


def main() -> None:
    serve(build)


if __name__ == "__main__":
    main()
