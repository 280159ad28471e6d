"""Run the identity service: ``python -m careflow.identity``."""

from careflow.identity.app import build
from careflow.kit.runtime import serve


def main() -> None:
    serve(build)


if __name__ == "__main__":
    main()
