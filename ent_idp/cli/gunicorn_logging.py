"""gunicorn's own lines (start, workers, timeouts) as JSON lines, like the app's.

gunicorn's error log goes to the root logger, whose handler ``ent_idp.logs`` set up (one
JSON object a line on stderr, every string redacted). gunicorn writes no access log: the
app writes one line per request itself (``ent_idp.web.telemetry``), with the request's id,
the Flask endpoint and the path with its link token or CAS ticket redacted.
"""

from __future__ import annotations

from gunicorn.glogging import Logger


class JsonLinesLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
        self.error_log.propagate = True
        self.access_log.propagate = False
