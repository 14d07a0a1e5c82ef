"""/dashboard for organisers: a sign-in link to the web dashboard, in a private chat only (the router
moves it out of a group: whoever sees the link first could use it)."""

from __future__ import annotations

import logging

from bot.core.context import Context
from bot.core.feature import Feature, command
from bot.port.events import Reply, ReplyKind
from bot.web.signin import LINK_LIFETIME, SignIn

log = logging.getLogger(__name__)


class Dashboard(Feature):
    @command("dashboard", "command.dashboard", organiser_only=True, personal=True)
    async def link(self, ctx: Context, args: str) -> list[Reply]:
        core = ctx.core
        if not core.config.web.enabled:
            return [ctx.reply("dashboard.not_enabled", ReplyKind.ERROR)]
        user = ctx.event.user
        if not core.config.is_organiser(user.platform, user.id):
            # An organiser by a platform's role only (a Discord server's): the dashboard shows every
            # campaign of the deployment, so it is for those its configuration names.
            return [ctx.reply("dashboard.not_listed", ReplyKind.ERROR)]
        signin = SignIn(core.store, core.keyring, core.config)
        url = await signin.link(user.platform, user.id, ctx.lang, core.clock())
        log.info("dashboard: a sign-in link was made on %s", user.platform)
        return [ctx.reply("dashboard.link", url=url, minutes=int(LINK_LIFETIME.total_seconds() // 60))]
