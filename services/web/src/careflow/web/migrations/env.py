from alembic import context

from careflow.kit.migrations import run_env

run_env(context)
