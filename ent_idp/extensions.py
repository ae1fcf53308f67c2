"""The app's shared resources, built once by the factory and kept on ``app.extensions``."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import Flask, current_app

from .cas import AllowedService, Network, logout_networks, parse_allow_list
from .clients import ForwardedHeaderLog
from .directory import Directory
from .flows import Flows
from .mailqueue import MailQueue
from .passwords import Policy
from .sessions import AccountSessions
from .throttle import DirectoryGuard, Throttle
from .throttle import Rule as ThrottleRule
from .tokens import Tokens

KEY = "ent_idp"


@dataclass
class Services:
    directory: Directory
    redis: redis.Redis
    flows: Flows
    tokens: Tokens
    mail_queue: MailQueue
    policy: Policy
    allowed_services: tuple[AllowedService, ...]
    account_sessions: AccountSessions
    throttle: Throttle
    forwarded_headers: ForwardedHeaderLog
    cas_logout_networks: tuple[Network, ...]

    def close(self) -> None:
        """Release the connections (tests and short-lived commands)."""
        self.directory.close()
        self.redis.close()


def init_app(app: Flask) -> Services:
    config = app.config
    client = redis.Redis.from_url(
        config["REDIS_URL"],
        decode_responses=True,
        socket_timeout=config["REDIS_TIMEOUT"],
        socket_connect_timeout=config["REDIS_TIMEOUT"],
        health_check_interval=30,
    )
    prefix = config["REDIS_PREFIX"]
    found = Services(
        directory=Directory(config),
        redis=client,
        flows=Flows(client, prefix, idle_seconds=config["FLOW_IDLE_MINUTES"] * 60),
        tokens=Tokens(client, prefix),
        mail_queue=MailQueue(client, prefix),
        policy=Policy.from_config(config),
        allowed_services=parse_allow_list(config["CAS_ALLOWED_SERVICES"]),
        account_sessions=AccountSessions(
            client,
            prefix,
            idle_seconds=config["FLOW_IDLE_MINUTES"] * 60,
            max_seconds=config["ACCOUNT_SESSION_MAX_MINUTES"] * 60,
        ),
        throttle=Throttle(
            client,
            prefix,
            per_login=ThrottleRule(
                config["THROTTLE_LOGIN_FREE_FAILURES"],
                config["THROTTLE_LOGIN_DELAY_SECONDS"],
                config["THROTTLE_LOGIN_MAX_FAILURES_PER_DAY"],
            ),
            per_address=ThrottleRule(
                config["THROTTLE_ADDRESS_FREE_FAILURES"],
                config["THROTTLE_ADDRESS_DELAY_SECONDS"],
                config["THROTTLE_ADDRESS_MAX_FAILURES_PER_DAY"],
            ),
            directory_guard=DirectoryGuard(
                config["THROTTLE_PPOLICY_MAX_FAILURE"],
                config["THROTTLE_PPOLICY_FAILURE_COUNT_INTERVAL"],
            ),
        ),
        forwarded_headers=ForwardedHeaderLog(client, prefix),
        cas_logout_networks=logout_networks(config["CAS_LOGOUT_ADDRESSES"], config["CAS_URL"]),
    )
    app.extensions[KEY] = found
    return found


def services() -> Services:
    return current_app.extensions[KEY]
