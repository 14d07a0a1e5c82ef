"""The core: :class:`~bot.core.app.Core` handles an event and returns its outcome, and is the port adapters
are given. It owns the router (commands, button actions, forms and free text dispatched to the features),
the base of features (:mod:`bot.core.feature`), the context a handler answers with, the configuration,
the registry of installed platforms and features, and the metrics."""
