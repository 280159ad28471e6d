"""Run the queue service: ``python -m careflow.queue``."""

from careflow.kit.runtime import serve
from careflow.queue.app import build


def main() -> None:
    serve(build)


if __name__ == "__main__":
    main()
