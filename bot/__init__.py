"""advocacy-bot: a platform-neutral harm-reduction and drug-policy chat bot core.

The core never imports a chat platform's library; adapters (in the ``adapters`` package) turn
platform events into :mod:`bot.port.events` and render the :class:`bot.port.events.Reply` objects it returns.
"""

__version__ = "0.1.0"
