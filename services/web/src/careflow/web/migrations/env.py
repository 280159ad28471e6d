from alembic import context

from careflow.kit.migrations import run_env

# The configured runtime login role (CAREFLOW_DB_RUNTIME_ROLE, or DATABASE_URL's user) joins
# the group 0002 gave exactly web's runtime rights.
run_env(context, runtime_group="careflow_web_runtime")
