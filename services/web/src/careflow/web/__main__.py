"""Run the web front end: ``python -m careflow.web``."""

from careflow.kit.runtime import serve
from careflow.web.app import build


def main() -> None:
    serve(build)


if __name__ == "__main__":
    main()
