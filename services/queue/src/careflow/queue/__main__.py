"""Run the queue service: ``python -m careflow.queue``."""

from careflow.queue.app import build
from careflow.kit.runtime import serve


def main() -> None:
    serve(build)


if __name__ == "__main__":
    main()
