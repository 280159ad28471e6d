from alembic import context

from careflow.kit.migrations import run_env

# The configured runtime login role (CAREFLOW_DB_RUNTIME_ROLE, or DATABASE_URL's user) joins
# the group 0007 gave exactly identity's runtime rights.
run_env(context, runtime_group="careflow_identity_runtime")
