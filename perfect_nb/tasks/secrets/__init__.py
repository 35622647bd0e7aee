"""Secret tasks from Prefect 1: ``PrefectSecret`` (reads :class:`perfect_nb.client.secrets.Secret`),
``EnvVarSecret`` (reads one environment variable) and their base ``SecretBase``."""

from perfect_nb.tasks.secrets.base import PrefectSecret, SecretBase
from perfect_nb.tasks.secrets.env_var import EnvVarSecret

__all__ = ["EnvVarSecret", "PrefectSecret", "SecretBase"]
