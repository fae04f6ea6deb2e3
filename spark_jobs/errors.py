"""Every exception botwatch raises, in one place.

Each carries a message meant for a person: one line that names the file, key or thing at fault
and why, so the CLI, a stage's log and the Airflow import-error banner can show it as it is.
"""

from __future__ import annotations


class BotwatchError(Exception):
    """Base of every error botwatch raises on purpose (as opposed to a bug)."""


class ConfigError(BotwatchError, ValueError):
    """A config file that cannot be used; the message is one line: file, key and reason.

    ``ConfigError.at(path, key, reason)`` builds that line and keeps its parts (``path``,
    ``key``, ``reason``), so ``botwatch check`` can say ``error:`` / ``warning:`` before the key
    and tests can compare parts; a plain ``ConfigError(message)`` still works for callers that
    already wrote the line.
    """

    path: str | None = None
    key: str | None = None
    reason: str | None = None

    @classmethod
    def at(cls, path: object, key: str, reason: str) -> ConfigError:
        """The error ``path: key: reason``, on one line whatever the reason holds."""
        reason = " ".join(str(reason).split())
        error = cls(f"{path}: {key}: {reason}")
        error.path, error.key, error.reason = str(path), key, reason
        return error


class LogFormatError(BotwatchError, ValueError):
    """A format string botwatch cannot compile; the message names the directive."""


class StageFailed(BotwatchError, RuntimeError):
    """A stage refused its input (quality gate, missing model); the job exits non-zero."""


class SparkServerUnavailable(BotwatchError, RuntimeError):
    """No Spark Connect server answers at the configured URL; names the URL and what to start."""


class SinkSetupError(BotwatchError, RuntimeError):
    """A sink cannot be built: a connection or variable is missing. Names which and why."""


class DeliveryFailed(BotwatchError, RuntimeError):
    """Some alerts did not reach some sink; they stay in the outbox for the next runs."""


class UseCaseConfigError(BotwatchError):
    """Raised by the config-errors DAG file so Airflow shows every bad config as an import error."""
