"""The organisers' dashboard (``web.enabled``): campaigns, sign-ups and deliveries at a glance, served
by the running bot on aiohttp, with server-rendered pages and charts (SVG, each beside its table).

Organisers sign in with a one-time link (``/dashboard`` in a private chat, or ``advocacy-bot dashboard
link``): :mod:`~bot.web.signin`. What the pages show is read by :mod:`~bot.web.queries` (the only SQL
of the package) and drawn by :mod:`~bot.web.charts`; :mod:`~bot.web.server` serves them. No page shows
a signer's name, e-mail address, platform id or chat id: only a petition's export holds them.
"""
