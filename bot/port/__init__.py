"""The port: everything adapters and the core share, and all an adapter may import of the bot.

Events go in (:mod:`bot.port.events`), outcomes come out (:mod:`bot.port.outcome`: replies in rich text,
:mod:`bot.port.markup`); :class:`bot.port.services.Port` is the one interface an adapter is given;
:mod:`bot.port.delivery` is the contract for broadcasts and reminders; :mod:`bot.port.platform` is what a
platform declares. Underneath them: the languages, time (:mod:`bot.port.clock`), the secrets no log may
show (:mod:`bot.port.redaction`), replies as plain text, and the mechanics adapters share.
"""
