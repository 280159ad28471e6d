"""Run the chat service: ``python -m careflow.chat``."""

from careflow.chat.app import build
from careflow.kit.runtime import serve


def main() -> None:
    serve(build)


if __name__ == "__main__":
    main()
