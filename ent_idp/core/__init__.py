"""What several domain modules share, below them: the resources start-up builds, the flows
and their steps, identification, the mails every flow sends, links and queued requests,
device cookies, client addresses, public URLs. Never imports ``ent_idp.domain``."""
